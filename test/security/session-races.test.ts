// Issue 9 #2: sessions born during an account change must not survive it. Logins whose
// password check (real scrypt, at PASSWORD_HASH_COST=16 so a check takes a while) began
// before a suspension, a password change, a logout-all, an admin revoke or a demotion
// complete after it: whatever they return must be dead — access tokens refused, refresh
// tokens not rotating (a demotion leaves sessions alive, but no token may carry the old role).
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../server/auth/passwords.ts';
import * as admin from '../../server/domain/admin-users.ts';
import { authenticate } from '../../server/trpc/context.ts';
import { callerFor, callerRegister, createTestDeps, DB_KINDS, NOTICE } from '../helpers.ts';

const PASSWORD = 'the right password';
// As many as scrypt runs at once (libuv's default pool of 4 threads), so all hash together.
const IN_FLIGHT = 4;

describe.each(DB_KINDS)('logins in flight during an account change, on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  /** Resolves once `n` password verifications have started (the real scrypt runs them). */
  let verifying: { n: number; started: number; reached: () => void } | undefined;
  let actorId: string;

  beforeAll(async () => {
    deps = await createTestDeps(kind, {
      PASSWORD_HASH_COST: '16',
      PASSWORD_HASH_CONCURRENCY: String(IN_FLIGHT),
    });
    const real = createPasswordHasher(deps.passwords.cost);
    deps.passwords = {
      ...real,
      verify(password, stored) {
        if (verifying) {
          verifying.started += 1;
          if (verifying.started === verifying.n) verifying.reached();
        }
        return real.verify(password, stored);
      },
    };
    actorId = (await register()).user.id;
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  async function register() {
    return callerRegister(deps, {
      email: `race.${randomUUID()}@example.com`,
      password: PASSWORD,
      name: 'Race',
      acceptPrivacyNotice: NOTICE,
    });
  }
  const actor = () => ({ id: actorId, privilegeLevel: 100, ip: '127.0.0.1' });
  const claimsOf = async (token: string) => (await authenticate(deps, `Bearer ${token}`)).auth;

  /**
   * Starts IN_FLIGHT logins, runs `change` once every one of them is hashing, and returns
   * the logins that succeeded, having checked that each one ended after the change.
   */
  async function loginsAround(email: string, change: () => Promise<unknown>) {
    let reached!: () => void;
    const allHashing = new Promise<void>((resolve) => {
      reached = resolve;
    });
    verifying = { n: IN_FLIGHT, started: 0, reached };
    // Each from an address of its own, so the hashing gate runs them all at once.
    const logins = Array.from({ length: IN_FLIGHT }, (_, i) =>
      callerFor(deps, null, { ip: `10.9.2.${10 + i}` })
        .auth.login({ email, password: PASSWORD })
        .then(
          (result) => ({ ok: true as const, result, ended: performance.now() }),
          (error: unknown) => ({ ok: false as const, error, ended: performance.now() }),
        ),
    );
    await allHashing;
    verifying = undefined;
    await change();
    const changed = performance.now();
    const outcomes = await Promise.all(logins);
    // The race really happened: a login finished its check after the change committed (on a
    // loaded machine the change may take longer than some checks; those prove nothing, and
    // their sessions must be dead too).
    expect(Math.max(...outcomes.map((o) => o.ended))).toBeGreaterThan(changed);
    return outcomes.flatMap((o) => (o.ok ? [o.result] : []));
  }

  /** Every pair issued is dead: access token refused, refresh token refused. */
  async function expectAllDead(pairs: Array<{ accessToken: string; refreshToken: string }>) {
    for (const pair of pairs) {
      expect(await claimsOf(pair.accessToken)).toBeNull();
      await expect(callerFor(deps).auth.refresh({ refreshToken: pair.refreshToken })).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
      });
    }
  }

  it('a suspension: no login in flight gets a working session', async () => {
    const user = await register();
    const issued = await loginsAround(user.user.email, () =>
      admin.suspend(deps, actor(), user.user.id, 'race test'),
    );
    await expectAllDead(issued);
    // Unsuspended later, the sessions stay dead.
    await admin.unsuspend(deps, actor(), user.user.id);
    await expectAllDead(issued);
  });

  it('a password change: no login with the old password gets a session that survives it', async () => {
    const user = await register();
    const claims = (await claimsOf(user.accessToken))!;
    // The stored hash at 2^17 (the production cost): a login's check outlasts the hash of
    // the new password (2^16 here), which the change computes after checking the current one.
    await deps.db.execute(
      sql`UPDATE users SET password_hash = ${await createPasswordHasher(17).hash(PASSWORD)} WHERE id = ${claims.sub}`,
    );
    const real = deps.passwords;
    let hashing!: () => void;
    const newPasswordHashing = new Promise<void>((resolve) => {
      hashing = resolve;
    });
    deps.passwords = {
      ...real,
      hash(password) {
        hashing();
        return real.hash(password);
      },
    };
    try {
      const change = callerFor(deps, claims, { ip: '10.9.2.2' }).auth.changePassword({
        currentPassword: PASSWORD,
        newPassword: 'a brand new password',
      });
      // The current password is checked; the new one is being hashed: log in with the old one now.
      await newPasswordHashing;
      const logins = Array.from({ length: IN_FLIGHT - 1 }, (_, i) =>
        callerFor(deps, null, { ip: `10.9.2.${10 + i}` })
          .auth.login({ email: user.user.email, password: PASSWORD })
          .then(
            (result) => ({ result, ended: performance.now() }),
            () => ({ result: undefined, ended: performance.now() }), // refused: the account changed
          ),
      );
      const fresh = await change;
      const changed = performance.now();
      const outcomes = await Promise.all(logins);
      const issued = outcomes.flatMap((o) => (o.result ? [o.result] : []));
      expect(Math.max(...outcomes.map((o) => o.ended))).toBeGreaterThan(changed);
      await expectAllDead(issued);
      // The session the change itself started works.
      expect((await claimsOf(fresh.accessToken))?.sub).toBe(user.user.id);
      expect(
        (await callerFor(deps).auth.refresh({ refreshToken: fresh.refreshToken })).accessToken,
      ).toBeTruthy();
    } finally {
      deps.passwords = real;
    }
  });

  it.each(['logoutAll', 'admin revokeSessions'] as const)(
    '%s: no login in flight gets a session that survives it',
    async (how) => {
      const user = await register();
      const claims = (await claimsOf(user.accessToken))!;
      const issued = await loginsAround(user.user.email, () =>
        how === 'logoutAll'
          ? callerFor(deps, claims).auth.logoutAll()
          : admin.revokeSessions(deps, actor(), user.user.id),
      );
      await expectAllDead(issued);
    },
  );

  it('a demotion: no login in flight keeps a token with the old role', async () => {
    const user = await register();
    await admin.setRole(deps, actor(), user.user.id, 'therapist');
    const issued = await loginsAround(user.user.email, () =>
      admin.setRole(deps, actor(), user.user.id, 'patient'),
    );
    for (const pair of issued) {
      const claims = await claimsOf(pair.accessToken);
      if (claims) expect(claims.role).toBe('patient');
      // The session may continue (a demotion does not end sessions), with the new role.
      const next = await callerFor(deps)
        .auth.refresh({ refreshToken: pair.refreshToken })
        .catch(() => undefined);
      if (next) expect((await claimsOf(next.accessToken))?.role).toBe('patient');
    }
  });

  it('refreshes racing a logout-all: no access token issued survives and no refresh token rotates', async () => {
    const user = await register();
    const claims = (await claimsOf(user.accessToken))!;
    const sessions = [];
    for (let i = 0; i < 10; i += 1)
      sessions.push(await callerFor(deps).auth.login({ email: user.user.email, password: PASSWORD }));
    const refreshes = sessions.map((s) =>
      callerFor(deps)
        .auth.refresh({ refreshToken: s.refreshToken })
        .catch(() => undefined),
    );
    await callerFor(deps, claims).auth.logoutAll();
    const rotated = (await Promise.all(refreshes)).filter((r) => r !== undefined);
    await expectAllDead(rotated);
  });
});
