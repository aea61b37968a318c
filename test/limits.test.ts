// Rate limits on real Redis (skipped without REDIS_URL), each run under a key prefix of
// its own: general per user / per IP, register per IP, the login brute-force limiter,
// and what happens when Redis cannot be reached (general → memory, login/register → 503).
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessClaims } from '../server/auth/tokens.ts';
import { loadConfig } from '../server/config.ts';
import { createRateLimits } from '../server/limits/index.ts';
import { closeRedis, connectRedis } from '../server/redis.ts';
import type { AppDeps } from '../server/services.ts';
import { createContextInner } from '../server/trpc/context.ts';
import type { Meta } from '../server/trpc/meta.ts';
import { freePort } from './faults/support.ts';
import { callerFor, createTestDeps, NOTICE, REAL_REDIS_URL } from './helpers.ts';

const config = loadConfig({
  RATE_LIMIT_ENABLED: 'true',
  RATE_LIMIT_GENERAL_PER_MINUTE: '5',
  RATE_LIMIT_REGISTER_PER_HOUR: '2',
  RATE_LIMIT_LOGIN_FAILURES: '3',
  RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY: '5',
});

function ctxFor(ip: string, sub?: string) {
  const auth = sub ? ({ sub } as AccessClaims) : null;
  return createContextInner({ deps: {} as AppDeps, auth, req: { ip } });
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return err instanceof TRPCError ? err.code : `thrown: ${String(err)}`;
  }
}

describe.skipIf(!REAL_REDIS_URL)('rate limits on Redis', () => {
  let redis: Redis;
  const prefix = `test-limits-${randomUUID()}`;
  let limits: ReturnType<typeof createRateLimits>;
  beforeAll(async () => {
    redis = await connectRedis(REAL_REDIS_URL!);
    limits = createRateLimits(config, redis, prefix);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await closeRedis(redis);
  });
  const call = (ctx: ReturnType<typeof ctxFor>, rateLimit?: Meta['rateLimit']) =>
    outcome(
      Promise.resolve(
        limits.beforeProcedure!({
          ctx,
          path: 'x',
          meta: rateLimit ? { auth: 'public', rateLimit } : undefined,
        }),
      ),
    );

  it('limits each user to RATE_LIMIT_GENERAL_PER_MINUTE calls, independently of other users and IPs', async () => {
    const ip = '10.1.0.1';
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await call(ctxFor(ip, 'user-a')));
    expect(results).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', 'TOO_MANY_REQUESTS']);
    expect(await call(ctxFor(ip, 'user-b'))).toBe('OK'); // same IP, another user
    expect(await call(ctxFor(ip))).toBe('OK'); // the anonymous IP has its own budget
    expect(Number(await redis.get(`${prefix}:general:u:user-a`))).toBe(6);
  });

  it('limits anonymous calls per IP and says how long to wait', async () => {
    for (let i = 0; i < 5; i++) expect(await call(ctxFor('10.1.0.2'))).toBe('OK');
    const err = await Promise.resolve(
      limits.beforeProcedure!({ ctx: ctxFor('10.1.0.2'), path: 'x', meta: undefined }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect(err.code).toBe('TOO_MANY_REQUESTS');
    expect(err.cause.details.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(err.cause.details.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('limits registrations per IP, and does not count rateLimit none', async () => {
    expect(await call(ctxFor('10.1.0.3'), 'register')).toBe('OK');
    expect(await call(ctxFor('10.1.0.3'), 'register')).toBe('OK');
    expect(await call(ctxFor('10.1.0.3'), 'register')).toBe('TOO_MANY_REQUESTS');
    expect(await call(ctxFor('10.1.0.4'), 'register')).toBe('OK');
    for (let i = 0; i < 10; i++) expect(await call(ctxFor('10.1.0.5'), 'none')).toBe('OK');
  });

  it('locks email+IP after consecutive failures, also for the right password, but not from another IP', async () => {
    const login = limits.loginLimiter;
    const email = 'Victim@Example.com';
    // Each attempt is counted before its password is checked.
    for (let i = 0; i < 3; i++) expect(await outcome(login.reserve(email, '10.2.0.1'))).toBe('OK');
    // Locked: reserve() runs before the password is looked at, so the right one is refused too.
    expect(await outcome(login.reserve('victim@example.com', '10.2.0.1'))).toBe('TOO_MANY_REQUESTS');
    expect(await outcome(login.reserve(email, '10.2.0.2'))).toBe('OK');
  });

  it('resets the consecutive count on success and blocks an IP after its daily failures', async () => {
    const login = limits.loginLimiter;
    await login.reserve('a@example.com', '10.3.0.1');
    await login.reserve('a@example.com', '10.3.0.1');
    // The right password: the email+IP count restarts and the IP gets its point back.
    await login.reserve('a@example.com', '10.3.0.1');
    await login.recordSuccess('a@example.com', '10.3.0.1');
    expect(await outcome(login.reserve('a@example.com', '10.3.0.1'))).toBe('OK');
    // Five failures from one IP over different emails: the IP is blocked for every email.
    await login.reserve('b@example.com', '10.3.0.1');
    await login.reserve('c@example.com', '10.3.0.1');
    expect(await outcome(login.reserve('new@example.com', '10.3.0.1'))).toBe('TOO_MANY_REQUESTS');
  });
});

const DEAD_STORE_TIMEOUT_MS = 10_000;
describe('rate limits when Redis cannot be reached', () => {
  let dead: Redis;
  let limits: ReturnType<typeof createRateLimits>;
  beforeAll(async () => {
    // A client to a port where nothing listens: status never becomes ready.
    dead = new Redis(await freePort(), '127.0.0.1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      // Long, so a limiter that waited on the dead store would be told apart from one that
      // did not by far more than any load on the machine can blur (see below).
      commandTimeout: DEAD_STORE_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
    });
    dead.on('error', () => {});
    await dead.connect().catch(() => {});
    limits = createRateLimits(config, dead, `dead-${randomUUID()}`);
  });
  afterAll(() => dead.disconnect());

  it('falls back to memory for general traffic at once, still limiting', async () => {
    const started = performance.now();
    const results = [];
    for (let i = 0; i < 6; i++)
      results.push(
        await outcome(
          Promise.resolve(
            limits.beforeProcedure!({ ctx: ctxFor('10.4.0.1', 'u'), path: 'x', meta: undefined }),
          ),
        ),
      );
    expect(results).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', 'TOO_MANY_REQUESTS']);
    // No waiting on the dead store: six in-memory checks take well under a millisecond, one
    // wait on the store takes its whole command timeout.
    expect(performance.now() - started).toBeLessThan(DEAD_STORE_TIMEOUT_MS);
  });

  it('fails closed with 503 for login and register', async () => {
    for (const rateLimit of ['login', 'register'] as const)
      expect(
        await outcome(
          Promise.resolve(
            limits.beforeProcedure!({
              ctx: ctxFor('10.4.0.2'),
              path: 'x',
              meta: { auth: 'public', rateLimit },
            }),
          ),
        ),
      ).toBe('SERVICE_UNAVAILABLE');
    expect(await outcome(limits.loginLimiter.reserve('x@example.com', '10.4.0.2'))).toBe(
      'SERVICE_UNAVAILABLE',
    );
    expect(await outcome(limits.loginLimiter.recordSuccess('x@example.com', '10.4.0.2'))).toBe(
      'SERVICE_UNAVAILABLE',
    );
  });

  it('turns general and register limits off with RATE_LIMIT_ENABLED=false', () => {
    const off = createRateLimits({ ...config, RATE_LIMIT_ENABLED: false }, undefined);
    expect(off.beforeProcedure).toBeUndefined();
  });
});

describe('the login lockout with RATE_LIMIT_ENABLED=false', () => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  beforeAll(async () => {
    // The default of 10 consecutive failures per email+IP.
    deps = await createTestDeps('pglite', { RATE_LIMIT_ENABLED: 'false' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  it('stays on: the 11th failed login is refused with TOO_MANY_REQUESTS, the right password too', async () => {
    expect(deps.config.RATE_LIMIT_ENABLED).toBe(false);
    const anon = callerFor(deps, null, { ip: '10.5.0.1' });
    const email = `lockout.${randomUUID()}@example.com`;
    await anon.auth.register({
      email,
      password: 'the right password',
      name: 'L',
      acceptPrivacyNotice: NOTICE,
    });
    const results = [];
    for (let i = 0; i < 11; i++)
      results.push(await outcome(anon.auth.login({ email, password: `wrong ${i}` })));
    expect(results).toEqual([...Array(10).fill('UNAUTHORIZED'), 'TOO_MANY_REQUESTS']);
    expect(await outcome(anon.auth.login({ email, password: 'the right password' }))).toBe(
      'TOO_MANY_REQUESTS',
    );
  });
});
