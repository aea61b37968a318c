// Issue 9 #3: brute-force limits under concurrency. Three parallel batches of 10 wrong
// passwords for one account were all checked against a limit of 10, and parallel failures
// pushed an IP past its daily limit: the limiter was read before the hash and written
// after it. Now an attempt is counted before the hash, so of any number of parallel
// guesses exactly the limit reach scrypt — on Redis and in process memory alike.
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../server/auth/passwords.ts';
import { callerFor, callerRegister, createTestDeps, NOTICE, REAL_REDIS_URL } from '../helpers.ts';

const STORES = REAL_REDIS_URL ? (['memory', 'redis'] as const) : (['memory'] as const);
const PASSWORD = 'the right password';

describe.each(STORES)('login limits under concurrency, limiter in %s', (store) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  /** Password checks that reached scrypt (a real verification or the unknown-email dummy). */
  let hashed = 0;
  beforeAll(async () => {
    deps = await createTestDeps('pglite', {
      RATE_LIMIT_LOGIN_FAILURES: '10',
      RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY: '25',
      ...(store === 'redis' ? { REDIS_URL: REAL_REDIS_URL! } : {}),
    });
    const real = createPasswordHasher(deps.passwords.cost);
    deps.passwords = {
      ...real,
      verify: (...args) => {
        hashed += 1;
        return real.verify(...args);
      },
      dummyVerify: (...args) => {
        hashed += 1;
        return real.dummyVerify(...args);
      },
    };
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  /** A fresh client address (limiter keys in a shared Redis never collide between runs). */
  const newIp = () =>
    `10.${(Math.random() * 250) | 0}.${(Math.random() * 250) | 0}.${(Math.random() * 250) | 0}`;
  async function codes(attempts: Promise<unknown>[]) {
    const settled = await Promise.allSettled(attempts);
    const tally: Record<string, number> = {};
    for (const s of settled) {
      const code = s.status === 'fulfilled' ? 'OK' : s.reason instanceof TRPCError ? s.reason.code : 'thrown';
      tally[code] = (tally[code] ?? 0) + 1;
    }
    return tally;
  }

  it('three parallel batches of 10 wrong passwords for one account: exactly 10 are checked', async () => {
    const email = `victim.${randomUUID()}@example.com`;
    const ip = newIp();
    await callerRegister(
      deps,
      { email, password: PASSWORD, name: 'Victim', acceptPrivacyNotice: NOTICE },
      { ip: newIp() },
    );
    const anon = callerFor(deps, null, { ip });
    hashed = 0;
    const tally = await codes(
      Array.from({ length: 30 }, (_, i) => anon.auth.login({ email, password: `wrong password ${i}` })),
    );
    expect(hashed).toBe(10);
    expect(tally).toEqual({ UNAUTHORIZED: 10, TOO_MANY_REQUESTS: 20 });
    // The right password is refused too while the lock holds, without reaching scrypt.
    await expect(anon.auth.login({ email, password: PASSWORD })).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
    });
    expect(hashed).toBe(10);
  });

  it('parallel failures over many accounts never take an IP past its daily limit', async () => {
    const ip = newIp();
    const anon = callerFor(deps, null, { ip });
    hashed = 0;
    // 60 guesses at once, 6 per unknown account (under the per-account limit): only the IP limit applies.
    const tally = await codes(
      Array.from({ length: 60 }, (_, i) =>
        anon.auth.login({ email: `nobody${i % 10}.${ip}@example.com`, password: 'nope-nope' }),
      ),
    );
    expect(hashed).toBe(25);
    expect(tally).toEqual({ UNAUTHORIZED: 25, TOO_MANY_REQUESTS: 35 });
    await expect(
      anon.auth.login({ email: 'one.more@example.com', password: 'nope-nope' }),
    ).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
    });
    expect(hashed).toBe(25);
  });

  it('right passwords are refunded: parallel successful logins do not use up the IP', async () => {
    const ip = newIp();
    const emails = Array.from({ length: 5 }, () => `ok.${randomUUID()}@example.com`);
    for (const email of emails)
      await callerRegister(
        deps,
        { email, password: PASSWORD, name: 'OK', acceptPrivacyNotice: NOTICE },
        { ip: newIp() },
      );
    const anon = callerFor(deps, null, { ip });
    // 5 accounts × 8 logins, in parallel batches: 40 successes > the 25 daily failures.
    for (let round = 0; round < 8; round += 1)
      expect(await codes(emails.map((email) => anon.auth.login({ email, password: PASSWORD })))).toEqual({
        OK: 5,
      });
    // Still 25 failures left for this IP.
    hashed = 0;
    const tally = await codes(
      Array.from({ length: 30 }, (_, i) =>
        anon.auth.login({ email: `x${i}.${ip}@example.com`, password: 'nope-nope' }),
      ),
    );
    expect(tally).toEqual({ UNAUTHORIZED: 25, TOO_MANY_REQUESTS: 5 });
  });
});
