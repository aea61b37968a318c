// auth.*: register, login, refresh rotation and reuse, logout, logoutAll, changePassword,
// me; the claims read; the number of SQL statements per procedure.
import type { TRPCError } from '@trpc/server';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countQueries, queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { readClaimsById } from '../server/auth/claims.ts';
import { createPasswordHasher } from '../server/auth/passwords.ts';
import { hashRefreshToken } from '../server/auth/refresh.ts';
import { authenticate } from '../server/trpc/context.ts';
import { errorOf } from './fixtures/domain.ts';
import { callerFor, callerRegister, createTestDeps, DB_KINDS, NOTICE } from './helpers.ts';

type Deps = Awaited<ReturnType<typeof createTestDeps>>;

let seq = 0;
const uniqueEmail = (tag: string) => `${tag}.${Date.now().toString(36)}.${seq++}@example.com`;
const PASSWORD = 'correct horse battery';

/** Claims of a bearer token as the HTTP path would see them (null: refused). */
async function bearer(deps: Deps, token: string) {
  return (await authenticate(deps, `Bearer ${token}`)).auth;
}

describe.each(DB_KINDS)('auth on %s', (kind) => {
  let deps: Deps;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  const anon = () => callerFor(deps, null);
  const as = async (accessToken: string) => callerFor(deps, await bearer(deps, accessToken));
  /** A new patient, registered, confirmed and signed in (callerRegister). */
  const register = (email = uniqueEmail('u'), password = PASSWORD) =>
    callerRegister(deps, { email, password, name: 'Test User', acceptPrivacyNotice: NOTICE });

  it('registers a pending patient on free, with no session: one statement (+ the earlier pending one, + the link: 4)', async () => {
    const email = uniqueEmail('Reg');
    const { result, queries } = await countQueries(() =>
      anon().auth.register({
        email: `  ${email.toUpperCase()} `,
        password: PASSWORD,
        name: 'Asha',
        acceptPrivacyNotice: NOTICE,
      }),
    );
    // An earlier pending registration deleted, the account (one statement), then in its
    // transaction the confirmation token and its email job.
    expect(queries).toBe(4);
    expect(result).toEqual({ email: email.toLowerCase(), confirmationSent: true });
    const [user] = await queryRows(
      deps.db,
      z.object({ id: z.string(), name: z.string(), status: z.string(), verified: z.boolean() }),
      sql`SELECT id, name, status, email_verified_at IS NOT NULL AS verified FROM users WHERE email = ${email.toLowerCase()}`,
    );
    expect(user).toMatchObject({ name: 'Asha', status: 'pending', verified: false });
    // No session: no refresh token exists for it.
    const [tokens] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${user!.id}`,
    );
    expect(tokens?.n).toBe(0);
    const [sub] = await queryRows(
      deps.db,
      z.object({ code: z.string(), status: z.string() }),
      sql`SELECT p.code, s.status FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE s.user_id = ${user!.id}`,
    );
    expect(sub).toEqual({ code: 'free', status: 'active' });
  });

  it('a confirmed patient signs in with the claims of a patient on free', async () => {
    const result = await register(uniqueEmail('claims'));
    expect(result.user).toMatchObject({ name: 'Test User', role: 'patient', plan: 'free' });
    expect(result.expiresIn).toBe(deps.config.ACCESS_TOKEN_TTL_SECONDS);
    expect(result.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const claims = await bearer(deps, result.accessToken);
    expect(claims).toMatchObject({
      role: 'patient',
      privilegeLevel: 10,
      plan: 'free',
      privacyNotice: NOTICE,
    });
    expect(claims?.features.sort()).toEqual(['assessments', 'mood_tracking']);
    expect(claims?.permissions).toContain('mood.write');
    expect(claims?.permissions).not.toContain('users.read');
    // Only the SHA-256 of the refresh token is stored.
    const stored = await queryRows(
      deps.db,
      z.object({ token_hash: z.string() }),
      sql`SELECT token_hash FROM refresh_tokens WHERE user_id = ${result.user.id}`,
    );
    expect(stored).toEqual([{ token_hash: hashRefreshToken(result.refreshToken) }]);
  });

  it('answers a duplicate email in any letter case like a new one, changing nothing (issue 32 #10)', async () => {
    const email = uniqueEmail('dup');
    const first = await register(email);
    const second = await anon().auth.register({
      email: email.toUpperCase(),
      password: 'another password',
      name: 'Someone Else',
      acceptPrivacyNotice: NOTICE,
    });
    expect(second).toEqual({ email, confirmationSent: true });
    const rows = await queryRows(
      deps.db,
      z.object({ id: z.string(), status: z.string(), name: z.string() }),
      sql`SELECT id, status, name FROM users WHERE lower(email) = ${email.toLowerCase()}`,
    );
    expect(rows).toEqual([{ id: first.user.id, status: 'active', name: 'Test User' }]);
  });

  it('refuses passwords shorter than 8 or longer than 128 before hashing', async () => {
    for (const password of ['short', 'x'.repeat(129), 'x'.repeat(1024 * 1024)]) {
      const { result, queries } = await countQueries(() => errorOf(register(uniqueEmail('len'), password)));
      expect(result.code).toBe('BAD_REQUEST');
      expect(queries).toBe(0);
    }
    const err = await errorOf(
      anon().auth.login({ email: uniqueEmail('x'), password: 'y'.repeat(1024 * 1024) }),
    );
    expect(err.code).toBe('BAD_REQUEST');
  });

  it('logs in with 2 statements and refuses an unknown email and a wrong password alike', async () => {
    const email = uniqueEmail('login');
    await register(email);
    const { result, queries } = await countQueries(() =>
      anon().auth.login({ email: email.toUpperCase(), password: PASSWORD }),
    );
    expect(queries).toBe(2);
    expect(result.user.email).toBe(email);
    expect(await bearer(deps, result.accessToken)).toMatchObject({ sub: result.user.id });

    const { result: wrong, queries: wrongQueries } = await countQueries(() =>
      errorOf(anon().auth.login({ email, password: 'wrong password' })),
    );
    const { result: unknown, queries: unknownQueries } = await countQueries(() =>
      errorOf(anon().auth.login({ email: uniqueEmail('nobody'), password: PASSWORD })),
    );
    // The same work either way: claims read + audit entry (and one scrypt).
    expect(wrongQueries).toBe(2);
    expect(unknownQueries).toBe(2);
    expect(wrong.code).toBe('UNAUTHORIZED');
    expect(unknown.code).toBe('UNAUTHORIZED');
    expect(wrong.message).toBe(unknown.message);
    const audit = await queryRows(
      deps.db,
      z.object({ action: z.string(), reason: z.string().nullable() }),
      sql`SELECT action, details->>'reason' AS reason FROM audit_log
          WHERE action IN ('auth.login', 'auth.loginFailed') AND (target_id = ${result.user.id} OR target_id IS NULL)
          ORDER BY id`,
    );
    expect(audit.map((a) => `${a.action}:${a.reason}`)).toEqual(
      expect.arrayContaining([
        'auth.login:null',
        'auth.loginFailed:wrong_password',
        'auth.loginFailed:unknown_email',
      ]),
    );
  });

  it('counts every attempt with the login limiter before the hash, and refunds a right password', async () => {
    const calls: string[] = [];
    const original = deps.loginLimiter;
    const email = uniqueEmail('limit');
    await register(email);
    deps.loginLimiter = {
      reserve: async (e) => void calls.push(`reserve:${e}`),
      recordSuccess: async (e) => void calls.push(`success:${e}`),
    };
    try {
      await errorOf(anon().auth.login({ email, password: 'wrong password' }));
      await anon().auth.login({ email, password: PASSWORD });
      expect(calls).toEqual([`reserve:${email}`, `reserve:${email}`, `success:${email}`]);
    } finally {
      deps.loginLimiter = original;
    }
  });

  it('rotates the refresh token on every use in one statement, keeping the session id', async () => {
    const first = await register();
    const { result: second, queries } = await countQueries(() =>
      anon().auth.refresh({ refreshToken: first.refreshToken }),
    );
    expect(queries).toBe(1);
    expect(Object.keys(second).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken']);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const a = await bearer(deps, first.accessToken);
    const b = await bearer(deps, second.accessToken);
    expect(b?.sid).toBe(a?.sid);
    const third = await anon().auth.refresh({ refreshToken: second.refreshToken });
    const rows = await queryRows(
      deps.db,
      z.object({ parent_id: z.string().nullable(), family_id: z.string(), used: z.boolean() }),
      sql`SELECT parent_id, family_id, used_at IS NOT NULL AS used FROM refresh_tokens
          WHERE user_id = ${first.user.id} ORDER BY created_at, parent_id NULLS FIRST`,
    );
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((r) => r.family_id)).size).toBe(1);
    expect(rows.map((r) => r.used)).toEqual([true, true, false]);
    expect(third.refreshToken).toBeTruthy();
  });

  it('refuses a used refresh token within the grace window without revoking the family', async () => {
    const first = await register();
    const second = await anon().auth.refresh({ refreshToken: first.refreshToken });
    expect((await errorOf(anon().auth.refresh({ refreshToken: first.refreshToken }))).code).toBe(
      'UNAUTHORIZED',
    );
    // The legitimate successor still works.
    await expect(anon().auth.refresh({ refreshToken: second.refreshToken })).resolves.toBeTruthy();
  });

  it('rejects a refresh token reused after rotation and revokes the whole family and its access tokens', async () => {
    const first = await register();
    const second = await anon().auth.refresh({ refreshToken: first.refreshToken });
    expect(await bearer(deps, second.accessToken)).not.toBeNull();
    // Age the use past the grace window, as if an attacker replayed it later.
    await deps.db.execute(
      sql`UPDATE refresh_tokens SET used_at = now() - interval '1 minute' WHERE token_hash = ${hashRefreshToken(first.refreshToken)}`,
    );
    const replay = await countQueries(() =>
      errorOf(anon().auth.refresh({ refreshToken: first.refreshToken })),
    );
    expect(replay.result.code).toBe('UNAUTHORIZED');
    expect(replay.queries).toBe(3); // consume (nothing) + find-and-revoke family + audit
    // The successor (held by the legitimate client or the thief) is dead too...
    expect((await errorOf(anon().auth.refresh({ refreshToken: second.refreshToken }))).code).toBe(
      'UNAUTHORIZED',
    );
    // ...and so is the session's live access token, with no database query.
    const { result, queries } = await countQueries(() => bearer(deps, second.accessToken));
    expect(result).toBeNull();
    expect(queries).toBe(0);
    const [audit] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.refreshReuse' AND target_id = ${first.user.id}`,
    );
    expect(audit?.n).toBe(1);
  });

  it('gives at most one new family member for two parallel refreshes of one token', async () => {
    const first = await register();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => anon().auth.refresh({ refreshToken: first.refreshToken })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as TRPCError).code).toBe('UNAUTHORIZED');
    const [row] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${first.user.id}`,
    );
    expect(row?.n).toBe(2);
  });

  it('refuses an expired, revoked, unknown or suspended-user refresh token', async () => {
    const a = await register();
    await deps.db.execute(
      sql`UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = ${a.user.id}`,
    );
    expect((await errorOf(anon().auth.refresh({ refreshToken: a.refreshToken }))).code).toBe('UNAUTHORIZED');
    const b = await register();
    await anon().auth.logout({ refreshToken: b.refreshToken });
    expect((await errorOf(anon().auth.refresh({ refreshToken: b.refreshToken }))).code).toBe('UNAUTHORIZED');
    expect((await errorOf(anon().auth.refresh({ refreshToken: 'A'.repeat(43) }))).code).toBe('UNAUTHORIZED');
    const c = await register();
    await deps.db.execute(sql`UPDATE users SET status = 'suspended' WHERE id = ${c.user.id}`);
    expect((await errorOf(anon().auth.refresh({ refreshToken: c.refreshToken }))).code).toBe('UNAUTHORIZED');
    // Nothing was issued for any of them.
    const [row] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id IN (${a.user.id}, ${b.user.id}, ${c.user.id})`,
    );
    expect(row?.n).toBe(3);
  });

  it('refuses a refresh token of an earlier session generation, with nothing else changed', async () => {
    const a = await register();
    const session = await anon().auth.login({ email: a.user.email, password: PASSWORD });
    // Only the generation moves: the tokens stay unused, unrevoked and unexpired, the user
    // active, tokens_valid_after where it was (the access token still works).
    await deps.db.execute(
      sql`UPDATE users SET session_generation = session_generation + 1 WHERE id = ${a.user.id}`,
    );
    expect(await bearer(deps, session.accessToken)).not.toBeNull();
    expect((await errorOf(anon().auth.refresh({ refreshToken: session.refreshToken }))).code).toBe(
      'UNAUTHORIZED',
    );
    expect((await errorOf(anon().auth.refresh({ refreshToken: a.refreshToken }))).code).toBe('UNAUTHORIZED');
    // Neither was consumed (no successor), and a session of the new generation rotates.
    const [used] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${a.user.id} AND used_at IS NOT NULL`,
    );
    expect(used?.n).toBe(0);
    const again = await anon().auth.login({ email: a.user.email, password: PASSWORD });
    expect((await anon().auth.refresh({ refreshToken: again.refreshToken })).refreshToken).not.toBe(
      again.refreshToken,
    );
  });

  it('refuses an access token at the refresh endpoint', async () => {
    const a = await register();
    const err = await errorOf(anon().auth.refresh({ refreshToken: a.accessToken }));
    expect(['UNAUTHORIZED', 'BAD_REQUEST']).toContain(err.code);
  });

  it('logout ends the session: its refresh token and live access token die, other sessions live', async () => {
    const email = uniqueEmail('logout');
    const s1 = await register(email);
    const s2 = await anon().auth.login({ email, password: PASSWORD });
    const { result, queries } = await countQueries(() =>
      anon().auth.logout({ refreshToken: s1.refreshToken }),
    );
    expect(result).toEqual({ ok: true });
    expect(queries).toBe(2);
    expect(await bearer(deps, s1.accessToken)).toBeNull();
    expect(await bearer(deps, s2.accessToken)).not.toBeNull();
    await expect(anon().auth.refresh({ refreshToken: s2.refreshToken })).resolves.toBeTruthy();
    // An unknown token is fine (nothing to reveal).
    await expect(anon().auth.logout({ refreshToken: 'B'.repeat(43) })).resolves.toEqual({ ok: true });
  });

  it('logoutAll ends every session of the caller at once and is audited', async () => {
    const email = uniqueEmail('all');
    const s1 = await register(email);
    const s2 = await anon().auth.login({ email, password: PASSWORD });
    const { result, queries } = await countQueries(async () => (await as(s1.accessToken)).auth.logoutAll());
    expect(result).toEqual({ ok: true });
    expect(queries).toBe(1);
    expect(await bearer(deps, s1.accessToken)).toBeNull();
    expect(await bearer(deps, s2.accessToken)).toBeNull();
    for (const s of [s1, s2])
      expect((await errorOf(anon().auth.refresh({ refreshToken: s.refreshToken }))).code).toBe(
        'UNAUTHORIZED',
      );
    // A new login right after works (its token is issued at or after tokens_valid_after).
    const s3 = await anon().auth.login({ email, password: PASSWORD });
    expect(await bearer(deps, s3.accessToken)).not.toBeNull();
    const [audit] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.logoutAll' AND actor_id = ${s1.user.id}`,
    );
    expect(audit?.n).toBe(1);
  });

  it('changePassword returns a new pair, ends the other sessions and needs the current password', async () => {
    const email = uniqueEmail('pw');
    const s1 = await register(email);
    const s2 = await anon().auth.login({ email, password: PASSWORD });
    const wrong = await errorOf(
      (await as(s1.accessToken)).auth.changePassword({
        currentPassword: 'not it at all',
        newPassword: 'a new passphrase',
      }),
    );
    expect(wrong.code).toBe('UNAUTHORIZED');
    const { result, queries } = await countQueries(async () =>
      (await as(s1.accessToken)).auth.changePassword({
        currentPassword: PASSWORD,
        newPassword: 'a new passphrase',
      }),
    );
    expect(queries).toBe(2);
    expect(await bearer(deps, result.accessToken)).not.toBeNull();
    for (const s of [s1, s2]) {
      expect(await bearer(deps, s.accessToken)).toBeNull();
      expect((await errorOf(anon().auth.refresh({ refreshToken: s.refreshToken }))).code).toBe(
        'UNAUTHORIZED',
      );
    }
    await expect(anon().auth.refresh({ refreshToken: result.refreshToken })).resolves.toBeTruthy();
    expect((await errorOf(anon().auth.login({ email, password: PASSWORD }))).code).toBe('UNAUTHORIZED');
    await expect(anon().auth.login({ email, password: 'a new passphrase' })).resolves.toBeTruthy();
    expect(
      (
        await errorOf(
          (
            await as(result.accessToken)
          ).auth.changePassword({ currentPassword: 'a new passphrase', newPassword: 'short' }),
        )
      ).code,
    ).toBe('BAD_REQUEST');
  });

  it('refuses a suspended account with account_suspended only after a correct password', async () => {
    const email = uniqueEmail('susp');
    const a = await register(email);
    await deps.db.execute(sql`UPDATE users SET status = 'suspended' WHERE id = ${a.user.id}`);
    const wrong = await errorOf(anon().auth.login({ email, password: 'wrong password' }));
    expect(wrong.code).toBe('UNAUTHORIZED');
    const right = await errorOf(anon().auth.login({ email, password: PASSWORD }));
    expect(right.code).toBe('FORBIDDEN');
    expect(right.cause).toMatchObject({ details: { reason: 'account_suspended' } });
  });

  it('me answers from the token with zero queries', async () => {
    const a = await register();
    const caller = await as(a.accessToken);
    const { result, queries } = await countQueries(() => caller.auth.me());
    expect(queries).toBe(0);
    expect(result).toMatchObject({ id: a.user.id, role: 'patient', plan: 'free' });
    expect((await errorOf(anon().auth.me())).code).toBe('UNAUTHORIZED');
  });

  it('reads the claims of a plan change at once (base tables, not the views)', async () => {
    const a = await register();
    await deps.db.execute(
      sql`UPDATE subscriptions SET plan_id = (SELECT id FROM plans WHERE code = 'premium') WHERE user_id = ${a.user.id}`,
    );
    const claims = await readClaimsById(deps.db, a.user.id);
    expect(claims?.plan).toBe('premium');
    expect(claims?.features).toContain('premium_dashboard');
    await deps.db.execute(sql`UPDATE subscriptions SET status = 'cancelled' WHERE user_id = ${a.user.id}`);
    expect((await readClaimsById(deps.db, a.user.id))?.plan).toBe('free');
  });
});

describe('password hashing', () => {
  it('verifies with the parameters stored in the hash and rejects a wrong password', async () => {
    const low = createPasswordHasher(10);
    const hash = await low.hash('pässwörd-1');
    expect(hash).toMatch(/^scrypt\$10\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    // A hasher with another cost still verifies it: the hash says how it was made.
    const other = createPasswordHasher(11);
    expect(await other.verify('pässwörd-1', hash)).toBe(true);
    expect(await other.verify('pässwörd-2', hash)).toBe(false);
    expect(await other.verify('x', 'not a hash')).toBe(false);
    expect(await other.verify('x', 'scrypt$30$8$1$AAAA$AAAA')).toBe(false);
  });

  it('uses N=2^17, r=8, p=1 by default', async () => {
    const hasher = createPasswordHasher();
    expect(hasher.cost).toBe(17);
  });
});
