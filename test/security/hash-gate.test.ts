// Issue 9 #4: one client slowed every login (30 concurrent logins to its own account). The
// hash gate (server/limits/hashing.ts) bounds password hashing per IP and per process:
// beyond the bound a login answers 429 with Retry-After before anything is hashed, and
// another IP's login still gets a slot. Through the real HTTP server with TRUST_PROXY.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../server/auth/passwords.ts';
import { createHashGate, LIGHT_USAGE, USAGE_HALF_LIFE_MS } from '../../server/limits/hashing.ts';
import { NOTICE } from '../helpers.ts';
import { startTestServer, type TestServer, trpcInput } from '../server.ts';
import { confirmRegistrationSql } from '../support/register.ts';

const PASSWORD = 'the right password';

describe('password hashing bound', () => {
  let server: TestServer;
  let hashing = 0;
  let maxHashing = 0;

  beforeAll(async () => {
    server = await startTestServer({
      env: {
        TRUST_PROXY: 'true',
        PASSWORD_HASH_CONCURRENCY: '2',
        PASSWORD_HASH_PER_IP: '1',
        PASSWORD_HASH_QUEUE: '4',
        // A hash that takes a while (2^16), so the requests overlap.
        PASSWORD_HASH_COST: '16',
      },
    });
    const real = createPasswordHasher(server.deps.passwords.cost);
    server.deps.passwords = {
      ...real,
      async verify(password, stored) {
        hashing += 1;
        maxHashing = Math.max(maxHashing, hashing);
        try {
          return await real.verify(password, stored);
        } finally {
          hashing -= 1;
        }
      },
    };
  });
  afterAll(async () => {
    await server?.close();
  });

  async function login(email: string, ip: string) {
    const started = performance.now();
    const res = await fetch(`${server.url}/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: trpcInput({ email, password: PASSWORD }),
    });
    const body = (await res.json()) as {
      error?: { json: { data: { code: string; retryAfterSeconds?: number } } };
    };
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      error: body.error?.json,
      ms: performance.now() - started,
    };
  }
  async function register(email: string, ip: string) {
    const res = await fetch(`${server.url}/trpc/auth.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: trpcInput({ email, password: PASSWORD, name: 'Flood', acceptPrivacyNotice: NOTICE }),
    });
    expect(res.status).toBe(200);
    await server.deps.db.execute(confirmRegistrationSql(email));
  }

  it('one IP beyond its bound gets 429 with Retry-After; another IP still logs in', async () => {
    await register('flooder@example.com', '10.44.0.1');
    await register('other@example.com', '10.44.0.2');
    maxHashing = 0;
    const flood = Array.from({ length: 12 }, () => login('flooder@example.com', '10.44.0.1'));
    const other = login('other@example.com', '10.44.0.2');
    const results = await Promise.all(flood);
    // One running and one waiting for the IP: the rest are refused before hashing (a few
    // more may get in if the first hashes end before every request has arrived).
    const refused = results.filter((r) => r.status === 429);
    expect(results.filter((r) => r.status !== 429).map((r) => r.status)).toEqual(
      Array(12 - refused.length).fill(200),
    );
    expect(refused.length).toBeGreaterThanOrEqual(8);
    for (const r of refused) {
      expect(r.retryAfter).toBe('1');
      expect(r.error?.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 1 });
    }
    expect((await other).status).toBe(200);
    expect(maxHashing).toBeLessThanOrEqual(2);
  });

  it('bounds the gate itself: concurrency, per-IP running and waiting, and the queue', async () => {
    const gate = createHashGate({ concurrency: 2, perIp: 1, queue: 1 });
    const release: Array<() => void> = [];
    const work = () => new Promise<void>((r) => release.push(r));
    const a1 = gate.run('a', work); // runs
    const b1 = gate.run('b', work); // runs (another IP)
    const a2 = gate.run('a', work); // waits (a's one waiting place; the queue's one place)
    await Promise.resolve();
    expect(gate.load).toEqual({ running: 2, waiting: 1 });
    // a has one running and one waiting: refused.
    await expect(gate.run('a', work)).rejects.toMatchObject({ kind: 'too_many_requests' });
    // The queue is full, but c has used no hash lately and a has: c takes a2's place.
    const c1 = gate.run('c', work);
    await expect(a2).rejects.toMatchObject({ kind: 'too_many_requests' });
    expect(gate.load).toEqual({ running: 2, waiting: 1 });
    // ... and a newcomer that used as much as the waiters is refused.
    await expect(gate.run('c', work)).rejects.toMatchObject({ kind: 'too_many_requests' });
    release.shift()!(); // a1 ends → c1 starts
    await a1;
    await new Promise((r) => setTimeout(r, 0));
    expect(gate.load).toEqual({ running: 2, waiting: 0 });
    for (const r of release.splice(0)) r();
    await Promise.all([b1, c1]);
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });

  it('a flood from many addresses cannot starve another client: the least-used IP is served next', async () => {
    let clock = 0;
    const gate = createHashGate({ concurrency: 1, perIp: 1, queue: 29 }, () => clock);
    const release: Array<() => void> = [];
    const order: string[] = [];
    const work = (ip: string) => () =>
      new Promise<void>((r) => {
        order.push(ip);
        release.push(r);
      });
    const settle = () => new Promise((r) => setTimeout(r, 0));
    // 30 addresses, each within its own bound, keep the one slot busy for a while.
    const flood: Array<Promise<unknown>> = [];
    const refill = () => {
      for (let i = 0; i < 30; i += 1)
        flood.push(gate.run(`flood-${i}`, work(`flood-${i}`)).catch(() => undefined));
    };
    for (let round = 0; round < 3; round += 1) {
      refill();
      await settle();
      while (release.length > 0) {
        clock += 300;
        release.shift()!();
        await settle();
      }
    }
    refill();
    await settle();
    expect(gate.load).toEqual({ running: 1, waiting: 29 }); // the queue is full
    // Another user's login arrives last: a flood waiter makes room, and it is next, not 30th.
    order.length = 0;
    const victim = gate.run('victim', work('victim'));
    expect(gate.load.waiting).toBe(29);
    release.shift()!();
    await settle();
    expect(order[0]).toBe('victim');
    expect(gate.load.waiting).toBe(28);
    release.shift()!();
    await victim;
    clock += 10 * USAGE_HALF_LIFE_MS;
    for (const r of release.splice(0)) r();
    while (gate.load.running > 0) {
      for (const r of release.splice(0)) r();
      await settle();
    }
    await Promise.all(flood);
  });
  it("keeps a slot for light addresses: under a flood another user's login starts at once", async () => {
    const gate = createHashGate({ concurrency: 2, perIp: 1, queue: 10 }, () => 0);
    const release: Array<() => void> = [];
    const work = () => new Promise<void>((r) => release.push(r));
    const settle = () => new Promise((r) => setTimeout(r, 0));
    // Two flood addresses that have asked LIGHT_USAGE times lately (their next ask is heavy).
    for (let i = 0; i < LIGHT_USAGE; i += 1)
      for (const ip of ['flood-1', 'flood-2']) {
        const done = gate.run(ip, work);
        await settle();
        release.shift()!();
        await done;
      }
    const f1 = gate.run('flood-1', work);
    const f2 = gate.run('flood-2', work);
    await settle();
    // The flood has one slot of the two; the other waits for it.
    expect(gate.load).toEqual({ running: 1, waiting: 1 });
    const person = gate.run('person', work);
    await settle();
    expect(gate.load).toEqual({ running: 2, waiting: 1 });
    const [endF1, endPerson] = release.splice(0);
    endPerson!();
    await person;
    // The flood's waiter still waits for the flood's slot, not the one the person left.
    await settle();
    expect(gate.load).toEqual({ running: 1, waiting: 1 });
    endF1!();
    await f1;
    await settle();
    release.shift()!();
    await f2;
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });
});
