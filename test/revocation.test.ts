// Instant revocation: the in-memory list, its reload from Postgres at start, and — with
// real Postgres and Redis — two service instances sharing them: a revocation on A must
// reach B within a second (the measured delay is printed).
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { countQueries, createDatabase } from '../db/client.ts';
import {
  loadRevocations,
  RevocationList,
  revocationRetentionSeconds,
  startRevocationSync,
} from '../server/auth/revocation.ts';
import { CLOCK_TOLERANCE_SECONDS } from '../server/auth/tokens.ts';
import { closeDeps, createDeps, createLogger } from '../server/create-services.ts';
import { closeRedis, connectRedis } from '../server/redis.ts';
import type { AppDeps } from '../server/services.ts';
import { authenticate } from '../server/trpc/context.ts';
import {
  callerFor,
  callerRegister,
  callerSignIn,
  createTestDeps,
  DB_KINDS,
  NOTICE,
  REAL_DATABASE_URL,
  REAL_REDIS_URL,
} from './helpers.ts';
import { scaled } from './support/load.ts';

const PASSWORD = 'correct horse battery';
let seq = 0;
const email = () => `rev.${Date.now().toString(36)}.${seq++}@example.com`;
const claimsOn = async (deps: AppDeps, token: string) => (await authenticate(deps, `Bearer ${token}`)).auth;
/** `list` kept in sync with Postgres and the Redis channel, as an instance of `deps` keeps its own. */
const syncOver = (
  deps: AppDeps,
  redis: Redis,
  list: RevocationList,
  channel: string,
  resyncIntervalMs: number,
) =>
  startRevocationSync({
    list,
    db: deps.db,
    accessTtlSeconds: deps.config.ACCESS_TOKEN_TTL_SECONDS,
    log: deps.log,
    redis,
    channel,
    resyncIntervalMs,
  });
/** A new patient registered through `deps` (a fresh email each time). */
const register = (deps: AppDeps, name = 'A') =>
  callerRegister(deps, { email: email(), password: PASSWORD, name, acceptPrivacyNotice: NOTICE });

describe('RevocationList', () => {
  const user = '11111111-1111-4111-8111-111111111111';
  const sid = '22222222-2222-4222-8222-222222222222';
  it('refuses tokens issued before tokens_valid_after and tokens of a revoked session', () => {
    const list = new RevocationList();
    list.apply({ kind: 'user', id: user, at: 1000 });
    expect(list.isRevoked({ sub: user, sid, iat: 999 })).toBe(true);
    expect(list.isRevoked({ sub: user, sid, iat: 1000 })).toBe(false);
    // An older event never lowers the bar.
    list.apply({ kind: 'user', id: user, at: 500 });
    expect(list.isRevoked({ sub: user, sid, iat: 999 })).toBe(true);
    list.apply({ kind: 'session', id: sid, at: 5000 });
    expect(list.isRevoked({ sub: user, sid, iat: 2000 })).toBe(true);
  });

  it('prunes a user entry only once every token it covers is past exp + the verification leeway', () => {
    const list = new RevocationList();
    list.apply({ kind: 'user', id: user, at: 1000 });
    list.apply({ kind: 'session', id: sid, at: 1900 });
    // A token with iat 999 expires at 1899 and verifies until 1899 + leeway.
    list.prune(999 + 900 + CLOCK_TOLERANCE_SECONDS, 900);
    expect(list.isRevoked({ sub: user, sid: user, iat: 999 })).toBe(true);
    list.prune(1000 + revocationRetentionSeconds(900) + 1, 900);
    expect(list.size).toBe(0);
  });
});

describe.each(DB_KINDS)('revocation state on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  it('is reloaded from Postgres at start: user bumps and revoked sessions of the last token lifetime', async () => {
    const anon = callerFor(deps);
    const a = await register(deps);
    const b = await register(deps, 'B');
    const aClaims = (await claimsOn(deps, a.accessToken))!;
    const bClaims = (await claimsOn(deps, b.accessToken))!;
    await callerFor(deps, aClaims).auth.logoutAll();
    await anon.auth.logout({ refreshToken: b.refreshToken });

    // A fresh instance knows nothing until it loads.
    const fresh = new RevocationList();
    expect(fresh.isRevoked(aClaims) || fresh.isRevoked(bClaims)).toBe(false);
    await loadRevocations(deps.db, fresh, deps.config.ACCESS_TOKEN_TTL_SECONDS);
    expect(fresh.isRevoked(aClaims)).toBe(true);
    expect(fresh.isRevoked(bClaims)).toBe(true);
    // A token issued after the bump is fine.
    const again = await anon.auth.login({ email: aClaims.email, password: PASSWORD });
    const againClaims = (await claimsOn(deps, again.accessToken))!;
    expect(fresh.isRevoked(againClaims)).toBe(false);
  });

  it('checks revocation per request from memory only', async () => {
    const a = await register(deps);
    const { result, queries } = await countQueries(() => claimsOn(deps, a.accessToken));
    expect(result?.sub).toBe(a.user.id);
    expect(queries).toBe(0);
  });
});

// Issue 9 #5: after logout / logoutAll, tokens answered 200 again past their TTL while the
// verification leeway still accepted them (entries were pruned at exp, not exp + leeway).
describe.each(DB_KINDS)(
  'a revoked token stays refused until it has expired, leeway included, on %s',
  (kind) => {
    const TTL = 30;
    let deps: Awaited<ReturnType<typeof createTestDeps>>;
    beforeAll(async () => {
      deps = await createTestDeps(kind, { ACCESS_TOKEN_TTL_SECONDS: String(TTL) });
    });
    afterAll(async () => {
      await deps?.dispose();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Moves this process's clock (jose, the token cache and the list read Date) and prunes as the timer would. */
    function at(epochSeconds: number) {
      vi.setSystemTime(epochSeconds * 1000);
      deps.revocations.prune(Date.now() / 1000, TTL);
    }

    it.each(['logout', 'logoutAll'] as const)(
      'after %s: refused past TTL + leeway, and the entry is pruned later',
      async (how) => {
        const anon = callerFor(deps);
        const a = await register(deps);
        const claims = (await claimsOn(deps, a.accessToken))!;
        if (how === 'logout') await anon.auth.logout({ refreshToken: a.refreshToken });
        else await callerFor(deps, claims).auth.logoutAll();
        const entries = deps.revocations.size;
        vi.useFakeTimers({ toFake: ['Date'] });
        // Every second from revocation until the token's verification leeway has run out.
        for (let t = claims.iat; t <= claims.exp + CLOCK_TOLERANCE_SECONDS; t += 1) {
          at(t);
          expect(
            (await authenticate(deps, `Bearer ${a.accessToken}`)).auth,
            `at iat + ${t - claims.iat} s`,
          ).toBeNull();
        }
        expect(deps.revocations.size).toBe(entries);
        // Once nothing it covers can verify any more, the entry goes.
        at(claims.iat + revocationRetentionSeconds(TTL) + 15);
        expect((await authenticate(deps, `Bearer ${a.accessToken}`)).authError).toBe('ERR_JWT_EXPIRED');
        expect(deps.revocations.size).toBe(entries - 1);
      },
    );

    it('a fresh instance loading from Postgres also refuses the token within the leeway', async () => {
      const anon = callerFor(deps);
      const a = await register(deps);
      const claims = (await claimsOn(deps, a.accessToken))!;
      await anon.auth.logout({ refreshToken: a.refreshToken });
      const fresh = new RevocationList();
      await loadRevocations(deps.db, fresh, TTL);
      fresh.prune(claims.exp + CLOCK_TOLERANCE_SECONDS, TTL);
      expect(fresh.isRevoked(claims)).toBe(true);
    });
  },
);

describe.skipIf(!REAL_REDIS_URL)('revocation resync from Postgres', () => {
  it('learns a revocation whose message never arrived at the next resync', async () => {
    const deps = await createTestDeps('pglite');
    const redis = await connectRedis(REAL_REDIS_URL!);
    const list = new RevocationList();
    const stop = await syncOver(deps, redis, list, `test:resync:${randomBytes(4).toString('hex')}`, 100);
    try {
      const a = await register(deps);
      const claims = (await claimsOn(deps, a.accessToken))!;
      expect(list.isRevoked(claims)).toBe(false);
      // Revoked in Postgres only: no message is published to this list's channel.
      await deps.db.execute(
        sql`UPDATE users SET tokens_valid_after = to_timestamp(${claims.iat + 1}) WHERE id = ${claims.sub}`,
      );
      const deadline = Date.now() + scaled(2000);
      while (!list.isRevoked(claims) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(list.isRevoked(claims)).toBe(true);
    } finally {
      await stop();
      await closeRedis(redis);
      await deps.dispose();
    }
  });
});

describe.skipIf(!REAL_REDIS_URL)('revocation subscriber after a reconnect', () => {
  it('subscribes again when the SUBSCRIBE after a reconnect failed (messages arrive again)', async () => {
    // A user of this test's own, whose channel permission is taken away: Redis drops its
    // subscribed connection, and the SUBSCRIBE after the reconnect fails (NOPERM), as a
    // resubscribe fails when the connection drops again during a failover. Once the
    // permission is back, messages must arrive again without waiting for the resync.
    const user = `revocation-test-${randomBytes(4).toString('hex')}`;
    const pass = randomBytes(16).toString('hex');
    const admin = await connectRedis(REAL_REDIS_URL!);
    await admin.call('ACL', 'SETUSER', user, 'on', `>${pass}`, '~*', '&*', '+@all');
    const url = new URL(REAL_REDIS_URL!);
    url.username = user;
    url.password = pass;
    const deps = await createTestDeps('pglite');
    const redis = await connectRedis(url.toString());
    const list = new RevocationList();
    const channel = `test:resubscribe:${randomBytes(4).toString('hex')}`;
    const stop = await syncOver(deps, redis, list, channel, 600_000);
    const sid = () => crypto.randomUUID();
    const arrives = async (ms: number) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        const id = sid();
        await admin.publish(channel, JSON.stringify([{ kind: 'session', id, at: 2_000_000_000 }]));
        await new Promise((r) => setTimeout(r, 50));
        if (list.isRevoked({ sub: sid(), sid: id, iat: 0 })) return true;
      }
      return false;
    };
    try {
      expect(await arrives(2000)).toBe(true);
      await admin.call('ACL', 'SETUSER', user, 'resetchannels'); // disconnects the subscriber
      await new Promise((r) => setTimeout(r, 1000)); // reconnected, SUBSCRIBE refused
      await admin.call('ACL', 'SETUSER', user, '&*');
      expect(await arrives(3000)).toBe(true);
    } finally {
      await stop();
      await closeRedis(redis);
      await admin.call('ACL', 'DELUSER', user);
      await closeRedis(admin);
      await deps.dispose();
    }
  });
});

describe.skipIf(!REAL_DATABASE_URL || !REAL_REDIS_URL)('two instances sharing Postgres and Redis', () => {
  let a: Awaited<ReturnType<typeof createTestDeps>>;
  let b: AppDeps;
  beforeAll(async () => {
    // A channel of this run's own (the channel is namespaced by the issuer).
    a = await createTestDeps('postgres', {
      REDIS_URL: REAL_REDIS_URL!,
      JWT_ISSUER: `manas360-test-${randomBytes(4).toString('hex')}`,
    });
    const url = (a.database as { url?: string }).url!;
    const second = await createDatabase({ url, poolMax: 5 });
    b = await createDeps(a.config, { database: second, log: createLogger(a.config) });
  });
  afterAll(async () => {
    if (b) await closeDeps(b);
    await a?.dispose();
  });

  /** Polls B until it refuses the token; returns the delay in ms from `since`. */
  async function delayUntilRefusedOnB(token: string, since: number): Promise<number> {
    while ((await claimsOn(b, token)) !== null) {
      if (performance.now() - since > 5000) throw new Error('B still accepts the token after 5 s');
      await new Promise((r) => setTimeout(r, 1));
    }
    return performance.now() - since;
  }

  it.each([
    ['admin revokeSessions', 'revoke'],
    ['logoutAll', 'logoutAll'],
    ['logout (one session)', 'logout'],
    ['setRole', 'setRole'],
  ] as const)('a revocation on A (%s) reaches B within a second', async (label, action) => {
    const user = await callerRegister(a, {
      email: email(),
      password: PASSWORD,
      name: 'U',
      acceptPrivacyNotice: NOTICE,
    });
    expect(await claimsOn(b, user.accessToken)).not.toBeNull();
    const admin = await callerRegister(a, {
      email: email(),
      password: PASSWORD,
      name: 'Admin',
      acceptPrivacyNotice: NOTICE,
    });
    await a.db.execute(
      sql`UPDATE users SET role_id = (SELECT id FROM roles WHERE name = 'admin') WHERE id = ${admin.user.id}`,
    );
    // Staff sign in with a second factor (a passkey enrolled by the helper).
    const adminLogin = await callerSignIn(a, { email: admin.user.email, password: PASSWORD });
    const adminCaller = callerFor(a, await claimsOn(a, adminLogin.accessToken));
    const userCaller = callerFor(a, await claimsOn(a, user.accessToken));

    const started = performance.now();
    if (action === 'revoke') await adminCaller.admin.users.revokeSessions({ userId: user.user.id });
    if (action === 'logoutAll') await userCaller.auth.logoutAll();
    if (action === 'logout') await callerFor(a).auth.logout({ refreshToken: user.refreshToken });
    if (action === 'setRole')
      await adminCaller.admin.users.setRole({ userId: user.user.id, role: 'therapist' });
    const committed = performance.now();
    expect(await claimsOn(a, user.accessToken)).toBeNull();
    const fromCommit = await delayUntilRefusedOnB(user.accessToken, committed);
    const fromStart = committed - started + fromCommit;
    console.log(
      `[revocation] ${label}: B refused the token ${fromCommit.toFixed(1)} ms after A's call returned (${fromStart.toFixed(1)} ms after it started)`,
    );
    expect(fromStart).toBeLessThan(1000);
  });

  it('a third instance started after the revocation refuses the token from its first request', async () => {
    const user = await callerRegister(a, {
      email: email(),
      password: PASSWORD,
      name: 'U',
      acceptPrivacyNotice: NOTICE,
    });
    await callerFor(a, await claimsOn(a, user.accessToken)).auth.logoutAll();
    const url = (a.database as { url?: string }).url!;
    const c = await createDeps(a.config, { database: await createDatabase({ url, poolMax: 2 }) });
    try {
      expect(await claimsOn(c, user.accessToken)).toBeNull();
    } finally {
      await closeDeps(c);
    }
  });

  it('ignores malformed revocation messages on the channel, and applies the next valid one', async () => {
    const user = await callerRegister(a, {
      email: email(),
      password: PASSWORD,
      name: 'U',
      acceptPrivacyNotice: NOTICE,
    });
    const marker = await callerRegister(a, {
      email: email(),
      password: PASSWORD,
      name: 'M',
      acceptPrivacyNotice: NOTICE,
    });
    const channel = `${a.config.JWT_ISSUER}:revocations`;
    const later = Math.floor(Date.now() / 1000) + 60;
    // Each would revoke the user's token if it were applied unchecked.
    const invalid = [
      'not json',
      [{ kind: 'user', id: user.user.id, at: String(later) }], // at as a string
      [{ kind: 'user', id: user.user.id, at: later + 0.5 }], // at not an integer
      [{ kind: 'user', id: user.user.id, at: later, extra: true }], // unknown key
      [
        { kind: 'user', id: user.user.id, at: later },
        { kind: 'everyone', id: user.user.id, at: later },
      ], // one bad event spoils the message
    ];
    for (const m of invalid) await a.redis!.publish(channel, typeof m === 'string' ? m : JSON.stringify(m));
    // A valid event after them, for another user: once B applies it, B has handled the invalid ones
    // (one channel, one subscriber connection: in order).
    await a.redis!.publish(channel, JSON.stringify([{ kind: 'user', id: marker.user.id, at: later }]));
    await delayUntilRefusedOnB(marker.accessToken, performance.now());
    expect(await claimsOn(b, user.accessToken)).not.toBeNull();
    // And B's subscriber still applies valid events for this user.
    await a.redis!.publish(channel, JSON.stringify([{ kind: 'user', id: user.user.id, at: later }]));
    await delayUntilRefusedOnB(user.accessToken, performance.now());
  });
});
