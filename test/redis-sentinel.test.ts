// Redis behind Sentinel (REDIS_SENTINELS): a real primary, replica and three Sentinels with
// passwords; two API hosts on one database. The primary is SIGKILLed: logins come back
// within 10 s without a restart, /readyz says degraded (200) meanwhile, a revocation made during
// the outage reaches the other host when its subscriber is back, and one made after the
// failover crosses hosts through pub/sub within 1 s. Start-up with no reachable Sentinel
// fails within 15 s, in one line naming REDIS_SENTINELS.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeDeps, createDeps, createLogger } from '../server/create-services.ts';
import { closeRedis, connectRedis, duplicateRedis } from '../server/redis.ts';
import { PASSWORD } from './accounts.ts';
import { freePort, sleep } from './faults/support.ts';
import { createTestDatabase, NOTICE, REAL_DATABASE_URL, testConfig } from './helpers.ts';
import { registerUser } from './server.ts';
import { type Host, startHost } from './support/host.ts';
import { HAVE_SENTINEL, MASTER_NAME, type SentinelSet, startSentinelSet } from './support/redis-sentinel.ts';

if (!HAVE_SENTINEL)
  console.warn(
    '[redis-sentinel.test] SKIPPED: redis-server/redis-sentinel are not installed (apt-get install -y redis-sentinel)',
  );

describe.skipIf(!HAVE_SENTINEL)('Redis Sentinel', () => {
  it('start-up with no Sentinel reachable fails within 15 s, in one line naming REDIS_SENTINELS', async () => {
    const config = testConfig({
      REDIS_SENTINELS: `127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`,
    });
    const started = performance.now();
    const err = await createDeps(config, { log: createLogger(config) }).then(
      (deps) => closeDeps(deps).then(() => null),
      (e: unknown) => e as Error,
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `[redis-sentinel.test] unreachable sentinels: refused after ${seconds.toFixed(1)} s: ${err?.message}`,
    );
    expect(err?.message).toMatch(/^REDIS_SENTINELS: /);
    expect(err?.message).not.toContain('\n');
    expect(seconds).toBeLessThan(15);
  }, 20_000);
});

describe.skipIf(!HAVE_SENTINEL)('a Redis connection through Sentinel', () => {
  it('comes back when the failover is announced while it is asking a sentinel for the primary', {
    timeout: 40_000,
  }, async () => {
    // ioredis ends a Sentinel client for good when its failover detector sees +switch-master
    // during a reconnect's sentinel lookup (server/redis.ts, keepConnected). Here every
    // lookup waits until the failover has been announced, so the announcement always comes
    // during one; on a loaded machine (the topology run) lookups are slow by themselves.
    const set = await startSentinelSet();
    const settings = {
      REDIS_URL: undefined,
      REDIS_SENTINELS: set.sentinels.split(','),
      REDIS_SENTINEL_NAME: MASTER_NAME,
      REDIS_PASSWORD: set.password,
      REDIS_SENTINEL_PASSWORD: set.sentinelPassword,
    };
    const redis = await connectRedis(settings);
    const subscriber = duplicateRedis(redis);
    await subscriber.connect();
    const clients = [redis, subscriber];
    const watcher = new Redis({ port: set.sentinelPorts[0], password: set.sentinelPassword });
    const announced = new Promise<void>((resolve) => {
      watcher.on('message', () => setTimeout(resolve, 300)); // the detectors have it too
    });
    await watcher.subscribe('+switch-master');
    for (const c of clients) {
      // ioredis's own (private) sentinel lookup, held until the announcement.
      const connector = (c as unknown as { connector: { resolve(e: unknown): Promise<unknown> } }).connector;
      const resolve = connector.resolve.bind(connector);
      connector.resolve = async (endpoint) => {
        await announced;
        return resolve(endpoint);
      };
    }
    try {
      await sleep(1000); // the failover detectors have subscribed to the sentinels
      const killedAt = performance.now();
      set.killPrimary();
      let backAfter = Number.NaN;
      while (performance.now() - killedAt < 20_000) {
        const wrote = await redis.set('sentinel-test', '1', 'PX', 10_000).then(
          () => true,
          () => false,
        );
        if (wrote && subscriber.status === 'ready') {
          backAfter = (performance.now() - killedAt) / 1000;
          break;
        }
        await sleep(100);
      }
      console.log(
        `[redis-sentinel.test] failover announced during the lookups: writes back after ${backAfter.toFixed(1)} s; connection ${redis.status}, subscriber ${subscriber.status}`,
      );
      expect(backAfter).toBeLessThan(10);
      expect(await subscriber.ping()).toBe('PONG');
    } finally {
      await Promise.all([...clients, watcher].map(closeRedis));
      await set.stop();
    }
  });
});

describe.skipIf(!HAVE_SENTINEL || !REAL_DATABASE_URL)('Redis Sentinel failover under two API hosts', () => {
  let set: SentinelSet;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let hosts: Host[] = [];
  beforeAll(async () => {
    set = await startSentinelSet();
    database = await createTestDatabase('postgres', { poolMax: 2 });
    const env = {
      DATABASE_URL: database.url!,
      DATABASE_POOL_MAX: '5',
      JWT_SECRET: randomBytes(32).toString('hex'),
      REDIS_SENTINELS: set.sentinels,
      REDIS_SENTINEL_NAME: MASTER_NAME,
      REDIS_PASSWORD: set.password,
      REDIS_SENTINEL_PASSWORD: set.sentinelPassword,
      // Logins and registrations count in Redis (and fail closed without it).
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_GENERAL_PER_MINUTE: '100000',
      RATE_LIMIT_REGISTER_PER_HOUR: '1000',
      RATE_LIMIT_LOGIN_FAILURES: '1000',
    };
    hosts = [await startHost(env), await startHost(env)];
  }, 60_000);
  afterAll(async () => {
    for (const h of hosts) await h.close();
    await database?.dispose();
    await set?.stop();
  });

  const login = async (host: Host, email: string) =>
    host.client().auth.login.mutate({ email, password: PASSWORD });
  const register = async (host: Host) => {
    const email = `sentinel-${randomBytes(4).toString('hex')}@example.com`;
    await registerUser(host, { email, password: PASSWORD, name: 'Sentinel', acceptPrivacyNotice: NOTICE });
    return email;
  };
  const meStatus = (host: Host, token: string) =>
    fetch(`${host.url}/trpc/auth.me`, { headers: { authorization: `Bearer ${token}` } }).then(
      (r) => r.status,
    );
  const ready = (host: Host) => fetch(`${host.url}/readyz`).then((r) => r.status);
  /** /readyz's status field: ready, degraded (Redis takes no write), unavailable, draining. */
  const readiness = (host: Host) =>
    fetch(`${host.url}/readyz`).then(
      async (r) => `${r.status} ${((await r.json()) as { status: string }).status}`,
    );

  it('logins come back within 10 s of the primary dying; readiness tells the truth; revocations resync and cross hosts', {
    timeout: 60_000,
  }, async () => {
    const [a, b] = hosts as [Host, Host];
    const email = await register(a);
    const victim = await register(a);
    const victimToken = (await login(a, victim)).accessToken;
    expect(await ready(a)).toBe(200);
    expect(await meStatus(b, victimToken)).toBe(200);

    const killedAt = performance.now();
    set.killPrimary();
    // During the outage: a revocation on host A (stored in Postgres; its publish fails).
    await a.client(victimToken).auth.logoutAll.mutate();

    // Readiness during the outage: the host stays in the balancer (200), saying it is degraded.
    const duringOutage = new Set<string>();
    let notReady = 0;
    let loginBackAt = 0;
    let failedLogins = 0;
    while (performance.now() - killedAt < 20_000) {
      const [status, ok] = await Promise.all([
        readiness(a),
        login(a, email).then(
          () => true,
          () => false,
        ),
      ]);
      duringOutage.add(status);
      if (status !== '200 ready') notReady += 1;
      if (ok) {
        loginBackAt = performance.now();
        break;
      }
      failedLogins += 1;
      await sleep(100);
    }
    const recovery = loginBackAt ? (loginBackAt - killedAt) / 1000 : Number.NaN;
    // Both hosts serve logins and registrations again, and say ready.
    const after = await Promise.all([login(b, email), register(b), register(a)]);
    // Readiness is cached for up to 1 s (server/app.ts): a probe from the outage may still
    // answer for that long, so each host has 3 s to say ready.
    const readyWithin = async (host: typeof a) => {
      let status = await ready(host);
      for (let i = 0; i < 30 && status !== 200; i++) {
        await sleep(100);
        status = await ready(host);
      }
      return status;
    };
    const readyAfter = [await readyWithin(a), await readyWithin(b)];
    // The revocation made during the outage reached host B (resync when its subscriber was back).
    let victimRefusedOnB = false;
    for (let i = 0; i < 30 && !victimRefusedOnB; i++) {
      victimRefusedOnB = (await meStatus(b, victimToken)) === 401;
      if (!victimRefusedOnB) await sleep(100);
    }
    // A revocation after the failover crosses hosts through pub/sub within 1 s.
    const fresh = (await login(a, email)).accessToken;
    expect(await meStatus(b, fresh)).toBe(200);
    await a.client(fresh).auth.logoutAll.mutate();
    const revokedAt = performance.now();
    let crossedMs = Number.NaN;
    while (performance.now() - revokedAt < 1000) {
      if ((await meStatus(b, fresh)) === 401) {
        crossedMs = performance.now() - revokedAt;
        break;
      }
      await sleep(20);
    }
    console.log(
      `[redis-sentinel.test] primary SIGKILLed: logins back after ${recovery.toFixed(1)} s (${failedLogins} refused meanwhile), ` +
        `/readyz not 'ready' ${notReady} times during the outage (${[...duringOutage].join(', ')}), ready after: ${readyAfter.join(',')}; ` +
        `revocation made during the outage refused on host B: ${victimRefusedOnB}; a revocation after the failover crossed in ${crossedMs.toFixed(0)} ms`,
    );
    expect(recovery).toBeLessThan(10);
    expect(notReady).toBeGreaterThan(0);
    // Degraded, never out of the balancer: a Redis outage is not a full outage.
    expect([...duringOutage].filter((s) => s.startsWith('503'))).toEqual([]);
    expect(duringOutage).toContain('200 degraded');
    expect(after).toHaveLength(3);
    expect(readyAfter).toEqual([200, 200]);
    expect(victimRefusedOnB).toBe(true);
    expect(crossedMs).toBeLessThan(1000);
  });
});
