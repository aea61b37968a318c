// SECURITY-TESTS 23–29: sessions that must end, refresh tokens that must not come back,
// through the real HTTP server and @trpc/client. Clock-dependent cases (a reuse outside the
// grace window, an expired refresh token) move the stored timestamps back instead of waiting.
import { TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../../db/client.ts';
import { countRow } from '../../db/row.ts';
import { hashRefreshToken } from '../../server/auth/refresh.ts';
import { DB_KINDS, NOTICE } from '../helpers.ts';
import { loginAccepted, registerUser, signIn, startTestServer, type TestServer } from '../server.ts';

describe.each(DB_KINDS)('sessions and refresh tokens on %s (SECURITY-TESTS 23–29)', (kind) => {
  let server: TestServer;
  let n = 0;
  const PASSWORD = 'a long enough password';
  const ADMIN = { email: 'root@example.com', password: 'a superadmin password' };
  const asAdmin = async () => server.client(await loginAccepted(server, ADMIN)).admin.users;
  /** The call fails with FORBIDDEN and this reason. */
  async function expect403(call: Promise<unknown>, reason: string) {
    await expect(call).rejects.toMatchObject({ data: { code: 'FORBIDDEN', httpStatus: 403, reason } });
  }

  beforeAll(async () => {
    server = await startTestServer({
      kind,
      env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function register() {
    n += 1;
    return registerUser(server, {
      email: `s${n}@example.com`,
      password: PASSWORD,
      name: `S ${n}`,
      acceptPrivacyNotice: NOTICE,
    });
  }
  const me = (token: string) => server.client(token).auth.me.query();
  const refresh = (refreshToken: string) => server.client().auth.refresh.mutate({ refreshToken });

  /** The call fails with UNAUTHORIZED (HTTP 401). */
  async function expect401(call: Promise<unknown>) {
    const err = await call.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<never>).data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
  }
  async function familyOf(refreshToken: string) {
    const [row] = await queryRows(
      server.deps.db,
      z.object({ family_id: z.string() }),
      sql`SELECT family_id FROM refresh_tokens WHERE token_hash = ${hashRefreshToken(refreshToken)}`,
    );
    return row!.family_id;
  }
  async function familyRows(familyId: string) {
    return queryRows(
      server.deps.db,
      z.object({ used: z.boolean(), revoked: z.boolean() }),
      sql`SELECT used_at IS NOT NULL AS used, revoked_at IS NOT NULL AS revoked
          FROM refresh_tokens WHERE family_id = ${familyId} ORDER BY created_at`,
    );
  }
  async function countRefreshTokens() {
    const [row] = await queryRows(
      server.deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM refresh_tokens`,
    );
    return Number(row!.n);
  }

  it('23 an access token after logout / logout-all → 401', async () => {
    // logout ends this session's access tokens, not the user's other sessions.
    const a = await register();
    const other = await server.client().auth.login.mutate({ email: a.user.email, password: PASSWORD });
    expect((await me(a.accessToken)).id).toBe(a.user.id);
    await server.client().auth.logout.mutate({ refreshToken: a.refreshToken });
    await expect401(me(a.accessToken));
    await expect401(refresh(a.refreshToken));
    expect((await me(other.accessToken)).id).toBe(a.user.id);

    // logoutAll ends every session of the user, access and refresh tokens alike.
    const b = await register();
    const b2 = await server.client().auth.login.mutate({ email: b.user.email, password: PASSWORD });
    await server.client(b.accessToken).auth.logoutAll.mutate();
    await expect401(me(b.accessToken));
    await expect401(me(b2.accessToken));
    await expect401(refresh(b2.refreshToken));
    // A new login works again, with a token issued after the cut-off.
    const b3 = await server.client().auth.login.mutate({ email: b.user.email, password: PASSWORD });
    expect((await me(b3.accessToken)).id).toBe(b.user.id);
  });

  // No waiting between the changes: a second change within the same second as the first
  // must still kill a token issued between them (tokens_valid_after strictly increases).
  it('24 an old-role token after a downgrade → refused at once; the refresh gets the new role', async () => {
    const admin = await asAdmin();
    const a = await register();
    await admin.setRole.mutate({ userId: a.user.id, role: 'admin' });
    // Now staff: signed in with a second factor (a passkey enrolled on the way).
    const promoted = await signIn(server, { email: a.user.email, password: PASSWORD });
    const asPromoted = server.client(promoted.accessToken);
    expect((await asPromoted.admin.users.list.query({ limit: 1 })).items).toBeDefined();

    await admin.setRole.mutate({ userId: a.user.id, role: 'patient' });
    await expect401(asPromoted.admin.users.list.query({ limit: 1 })); // at once, no waiting
    await expect401(me(promoted.accessToken));
    // The refresh token survives a role change: the client refreshes into the new claims.
    const renewed = await refresh(promoted.refreshToken);
    expect((await me(renewed.accessToken)).role).toBe('patient');
    await expect403(
      server.client(renewed.accessToken).admin.users.list.query({ limit: 1 }),
      'missing_permission',
    );
  });

  it('25 the feature claim of a cancelled plan → refused at once', async () => {
    const admin = await asAdmin();
    const a = await register();
    await admin.setPlan.mutate({ userId: a.user.id, planCode: 'basic' });
    const paid = await server.client().auth.login.mutate({ email: a.user.email, password: PASSWORD });
    expect((await me(paid.accessToken)).features).toContain('therapist_booking');
    const book = (token: string) =>
      server.client(token).therapy.book.mutate({
        therapistId: '00000000-0000-4000-8000-000000000000',
        startsAt: new Date(Math.ceil(Date.now() / 3_600_000 + 1) * 3_600_000),
      });
    // Past the feature gate: the (unknown) therapist is what stops this booking.
    await expect(book(paid.accessToken)).rejects.toMatchObject({ data: { code: 'NOT_FOUND' } });

    await admin.setPlan.mutate({ userId: a.user.id, planCode: 'free' });
    await expect401(book(paid.accessToken));
    const renewed = await refresh(paid.refreshToken);
    expect((await me(renewed.accessToken)).features).not.toContain('therapist_booking');
    await expect403(book(renewed.accessToken), 'missing_feature');
  });

  it('26 a rotated refresh token reused outside the grace window → 401, family revoked', async () => {
    const a = await register();
    const first = await refresh(a.refreshToken);
    // Within the grace window (a lost response): refused, but the family survives.
    await expect401(refresh(a.refreshToken));
    const second = await refresh(first.refreshToken);
    expect((await me(second.accessToken)).id).toBe(a.user.id);

    // Later, the first token comes back (a thief's copy): the whole family dies.
    const family = await familyOf(a.refreshToken);
    await server.deps.db.execute(
      sql`UPDATE refresh_tokens SET used_at = used_at - interval '1 hour' WHERE family_id = ${family} AND used_at IS NOT NULL`,
    );
    await expect401(refresh(a.refreshToken));
    expect((await familyRows(family)).every((r) => r.revoked)).toBe(true);
    await expect401(refresh(second.refreshToken)); // the legitimate holder's latest token
    await expect401(me(second.accessToken)); // and the session's live access token
    const [audit] = await queryRows(
      server.deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.refreshReuse' AND target_id = ${a.user.id}`,
    );
    expect(Number(audit!.n)).toBe(1);
  });

  it('27 two parallel refreshes of one token → exactly one success, the other 401', async () => {
    for (let round = 0; round < 5; round += 1) {
      const a = await register();
      // Two HTTP requests (two clients: one client would batch them into one request).
      const results = await Promise.allSettled([refresh(a.refreshToken), refresh(a.refreshToken)]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      expect(ok).toHaveLength(1);
      const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((failed.reason as TRPCClientError<never>).data).toMatchObject({ code: 'UNAUTHORIZED' });
      // One successor in the family, and it still works (the loser was inside the grace window).
      const family = await familyOf(a.refreshToken);
      expect(await familyRows(family)).toEqual([
        { used: true, revoked: false },
        { used: false, revoked: false },
      ]);
      const winner = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof refresh>>>).value;
      expect((await refresh(winner.refreshToken)).accessToken).toBeTruthy();
    }
  });

  it('28 an expired or revoked refresh token → 401, nothing issued', async () => {
    const expired = await register();
    await server.deps.db.execute(
      sql`UPDATE refresh_tokens SET expires_at = now() - interval '1 second'
          WHERE token_hash = ${hashRefreshToken(expired.refreshToken)}`,
    );
    const revoked = await register();
    await server.client().auth.logout.mutate({ refreshToken: revoked.refreshToken });
    const before = await countRefreshTokens();
    await expect401(refresh(expired.refreshToken));
    await expect401(refresh(revoked.refreshToken));
    await expect401(refresh('A'.repeat(43))); // never issued
    expect(await countRefreshTokens()).toBe(before);
  });

  it('29 a refresh after a password change → 401 (the new pair works)', async () => {
    const a = await register();
    const elsewhere = await server.client().auth.login.mutate({ email: a.user.email, password: PASSWORD });
    const changed = await server
      .client(a.accessToken)
      .auth.changePassword.mutate({ currentPassword: PASSWORD, newPassword: 'another long password' });
    await expect401(refresh(a.refreshToken));
    await expect401(refresh(elsewhere.refreshToken));
    await expect401(me(a.accessToken));
    await expect401(me(elsewhere.accessToken));
    expect((await me(changed.accessToken)).id).toBe(a.user.id);
    expect((await refresh(changed.refreshToken)).accessToken).toBeTruthy();
    await expect401(server.client().auth.login.mutate({ email: a.user.email, password: PASSWORD }));
  });
});
