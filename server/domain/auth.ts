// The auth.* use cases as plain functions of (deps, input, client): register, login,
// refresh, logout, logoutAll, changePassword. The router in server/routers/auth.ts only
// wires them to procedures. Each SQL statement here is counted; the numbers are in the
// report and asserted by test/auth.test.ts.
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import { countRow } from '../../db/row.ts';
import type { AuditAction } from '../../shared/audit.ts';
import type { ChangePasswordInput, LoginInput, RegisterInput } from '../../shared/inputs/auth.ts';
import { auditInsert, recordAudit } from '../audit.ts';
import {
  type ClaimsRow,
  claimsRow,
  claimsSelect,
  issuedAt,
  readClaimsById,
  tokenSubject,
} from '../auth/claims.ts';
import {
  type ClientInfo,
  newFamilyId,
  newRefreshToken,
  REFRESH_TOKEN_COLUMNS,
  refreshTokenValues,
  revokeAllRefreshTokensOf,
  revokeFamilyOf,
  rotateRefreshToken,
} from '../auth/refresh.ts';
import { bumpTokensValidAfter, sessionRevocation, userRevocation } from '../auth/revocation.ts';
import type { AppDeps } from '../services.ts';
import { type AccountJob, queueEmailVerification, userRow } from './email-tokens.ts';
import { badRequest, conflict, forbidden, unauthorized } from './errors.ts';
import { factorKindsColumn, type LoginClaimsRow, loginChallenge, loginClaimsRow } from './mfa-challenge.ts';

type AuthDeps = Pick<
  AppDeps,
  'db' | 'tokens' | 'passwords' | 'revocations' | 'loginLimiter' | 'hashGate' | 'config' | 'queue' | 'notes'
>;

/** The answer to a login whose account changed (suspended, password, sessions ended) while it was checked. */
export const ACCOUNT_CHANGED_MESSAGE = 'The account changed while signing in; sign in again';

/** The same message for an unknown email and a wrong password (docs/api.md). */
export const LOGIN_FAILED_MESSAGE = 'Invalid email or password';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: string;
  privilegeLevel: number;
  permissions: string[];
  plan: string;
  features: string[];
}

export type AuthResult = TokenPair & { user: SessionUser };

export function sessionUser(row: ClaimsRow): SessionUser {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    privilegeLevel: row.privilege_level,
    permissions: row.permissions,
    plan: row.plan,
    features: row.features,
  };
}

/**
 * Signs the access token of a session (sid = refresh family) for the claims read, issued
 * when the statement that created or rotated the session ran (claims.ts issuedAt).
 */
async function tokenPair(
  deps: AuthDeps,
  row: ClaimsRow,
  familyId: string,
  refreshToken: string,
): Promise<TokenPair> {
  const { token } = await deps.tokens.sign(tokenSubject(row), familyId, issuedAt(row));
  return { accessToken: token, refreshToken, expiresIn: deps.tokens.ttlSeconds };
}

/** A notice version other than the current one is refused: the user must see what they accept. */
export function assertCurrentNotice(config: AppDeps['config'], version: string): void {
  if (version !== config.PRIVACY_NOTICE_VERSION)
    throw badRequest(`The current privacy notice is version ${config.PRIVACY_NOTICE_VERSION}`);
}

/** auth.register's answer: the same for every well-formed request (nothing about the address). */
export interface RegisterResult {
  email: string;
  confirmationSent: true;
}

/** How many times a registration retries when concurrent ones of the same address interleave. */
const REGISTER_ATTEMPTS = 3;

/**
 * auth.register (docs/decisions/registration-privacy.md): answers every well-formed request
 * the same — `{ email, confirmationSent: true }`, no session — in comparable time (the
 * password is hashed either way, in a hashing slot). A notice other than the current one is
 * refused before anything is hashed. In one transaction:
 * - an unconfirmed ('pending') registration of the address is deleted (its link, consent
 *   and subscription with it; its audit entries scrubbed): the latest registration wins;
 * - ONE statement inserts the user ('pending'), the free subscription, the consent to the
 *   notice and the audit entry, unless the address has an account (users_email_lower_uq,
 *   any letter case: ON CONFLICT DO NOTHING, which waits for a concurrent insert to end);
 * - a new account: the confirmation link is issued and its email queued (2 statements);
 *   auth.verifyEmail makes the account active. An address with an active or suspended
 *   account: "you already have an account" is queued instead (an `account` job; the
 *   worker writes only to active accounts). A pending row committed by a concurrent
 *   registration between the delete and the insert: the delete runs again (the later
 *   registration wins), at most REGISTER_ATTEMPTS times.
 */
export async function register(
  deps: AuthDeps,
  input: RegisterInput,
  client: ClientInfo,
): Promise<RegisterResult> {
  assertCurrentNotice(deps.config, input.acceptPrivacyNotice);
  const passwordHash = await deps.hashGate.run(client.ip, () => deps.passwords.hash(input.password));
  await deps.db.transaction(async (tx) => {
    for (let attempt = 1; attempt <= REGISTER_ATTEMPTS; attempt++) {
      await deletePendingAccounts(tx, sql`lower(email) = lower(${input.email})`);
      const [created] = await queryRows(
        tx,
        userRow,
        sql`WITH u AS (
              INSERT INTO users (email, name, password_hash, role_id, status)
              SELECT ${input.email}, ${input.name}, ${passwordHash}, id, 'pending' FROM roles WHERE name = 'patient'
              ON CONFLICT ((lower(email))) DO NOTHING
              RETURNING id, email, name, language
            ), sub AS (
              INSERT INTO subscriptions (user_id, plan_id, status)
              SELECT u.id, p.id, 'active' FROM u, plans p WHERE p.code = 'free'
            ), consent AS (
              INSERT INTO privacy_consents (user_id, notice_version, ip)
              SELECT u.id, ${input.acceptPrivacyNotice}, ${client.ip} FROM u
            ), audit AS (
              ${auditInsert({ actorId: sql`u.id`, action: 'auth.register', targetId: sql`u.id`, ip: client.ip }, sql`u`)}
            )
            SELECT id, email, name, language FROM u`,
      );
      if (created) return queueEmailVerification(deps, tx, created);
      const [held] = await queryRows(
        tx,
        z.object({ status: z.string() }),
        sql`SELECT status FROM users WHERE lower(email) = lower(${input.email})`,
      );
      if (held && held.status !== 'pending') {
        const job: AccountJob = { kind: 'accountExists', email: input.email };
        await deps.queue.enqueue(tx, 'account', job);
        return;
      }
      // A concurrent registration committed a pending row (or removed the one in the way): again.
    }
  });
  return { email: input.email, confirmationSent: true };
}

/**
 * Deletes the pending (never confirmed) accounts `where` selects, with what hangs on them
 * (ON DELETE CASCADE: the link, the consent, the subscription), and scrubs their audit
 * entries (scrub_audit_log, migrations/0015: the log is otherwise append-only). One
 * statement; the number deleted. Used by auth.register (the address registered again) and
 * the pending-account-cleanup job (expired).
 */
export async function deletePendingAccounts(tx: Executor, where: SQL): Promise<number> {
  const [row] = await queryRows(
    tx,
    countRow,
    sql`WITH gone AS (DELETE FROM users WHERE status = 'pending' AND ${where} RETURNING id)
        SELECT (SELECT count(*) FROM gone)::int AS n, scrub_audit_log(ARRAY(SELECT id FROM gone)) AS scrubbed`,
  );
  return row?.n ?? 0;
}

/**
 * Starts a new session (refresh family) for a user whose password was just checked
 * against `row`: one statement with its audit entry. The session is created only if the
 * account is still as it was read — active, same password hash, same session generation,
 * same tokens_valid_after (role, plan) — checked by the UPDATE on the row it locks, so a
 * suspension, password change, logout-all, revoke, role or plan change that committed
 * while the password was being hashed ends this login, and one committed after this
 * statement bumps tokens_valid_after past the token's iat (the statement's clock) and the
 * generation past the refresh token's. undefined when the account changed.
 */
async function startSession(
  deps: AuthDeps,
  row: ClaimsRow,
  client: ClientInfo,
  audit: { action: AuditAction },
): Promise<AuthResult | undefined> {
  const refresh = newRefreshToken();
  const familyId = newFamilyId();
  const [started] = await queryRows(
    deps.db,
    z.object({ issued_at: z.number() }),
    sql`WITH u AS (
          UPDATE users SET last_login_at = now()
          WHERE id = ${row.id} AND status = 'active' AND deleted_at IS NULL
            AND password_hash = ${row.password_hash} AND session_generation = ${row.session_generation}
            AND ceil(extract(epoch FROM tokens_valid_after)) = ${row.tokens_valid_after}
          RETURNING id, session_generation, floor(extract(epoch FROM clock_timestamp()))::float8 AS issued_at
        ), rt AS (
          INSERT INTO refresh_tokens ${REFRESH_TOKEN_COLUMNS}
          SELECT ${refreshTokenValues({ userId: sql`u.id`, hash: refresh.hash, familyId: sql`${familyId}::uuid`, generation: sql`u.session_generation`, ttlSeconds: deps.config.REFRESH_TOKEN_TTL_SECONDS, client })}
          FROM u
        ), audit AS (
          ${auditInsert({ actorId: sql`u.id`, action: audit.action, targetId: sql`u.id`, ip: client.ip }, sql`u`)}
        )
        SELECT issued_at FROM u`,
  );
  if (!started) return undefined;
  // A password alone (RFC 8176 'pwd'), now: a second factor upgrades the session later.
  const at = Number(started.issued_at);
  const issued = { ...row, issued_at: at, amr: ['pwd'], auth_time: at };
  return { user: sessionUser(row), ...(await tokenPair(deps, issued, familyId, refresh.token)) };
}

/**
 * Checks a password in a hashing slot (deps.hashGate: per IP and per process), after
 * counting the attempt against the login limiter (counted before the hash, refunded when
 * the password is right). `row` undefined (unknown email) burns a dummy verification.
 */
async function checkPassword<R extends ClaimsRow>(
  deps: Pick<AppDeps, 'passwords' | 'loginLimiter' | 'hashGate'>,
  email: string,
  password: string,
  client: ClientInfo,
  read: () => Promise<R | undefined>,
  /** A right password that a second factor must follow is refunded only when that succeeds. */
  factorFollows: (row: R) => boolean = () => false,
): Promise<{ row: R | undefined; ok: boolean }> {
  const checked = await deps.hashGate.run(client.ip, async () => {
    await deps.loginLimiter.reserve(email, client.ip);
    const row = await read();
    if (row) return { row, ok: await deps.passwords.verify(password, row.password_hash) };
    await deps.passwords.dummyVerify(password);
    return { row, ok: false };
  });
  if (checked.ok && !factorFollows(checked.row!)) await deps.loginLimiter.recordSuccess(email, client.ip);
  return checked;
}

/**
 * Claims, password hash and the kinds of second factor of a live user by email: one
 * statement. A pending account (registered, not confirmed) is not read: its login is an
 * unknown address's (a dummy verification, the same answer as a wrong password).
 */
async function readLoginClaims(db: AppDeps['db'], email: string): Promise<LoginClaimsRow | undefined> {
  const [row] = await queryRows(
    db,
    loginClaimsRow,
    sql`${claimsSelect(sql`users u`, factorKindsColumn)}
        WHERE lower(u.email) = lower(${email}) AND u.status <> 'pending' AND u.deleted_at IS NULL`,
  );
  return row;
}

/**
 * auth.login: a hashing slot and the limiter first (the attempt is counted before the
 * hash); the password is verified (or a dummy hash, for an unknown email) before anything
 * else is revealed; a suspended account is reported only after a correct password. 2
 * statements either way (claims read + session or audit). A login whose account changed
 * during the check gets UNAUTHORIZED (ACCOUNT_CHANGED_MESSAGE), or account_suspended.
 */
export async function login(deps: AuthDeps, input: LoginInput, client: ClientInfo): Promise<AuthResult> {
  const { row, ok } = await checkPassword(
    deps,
    input.email,
    input.password,
    client,
    () => readLoginClaims(deps.db, input.email),
    (r) => r.factor_kinds.length > 0,
  );
  if (!ok) {
    await recordAudit(deps.db, {
      actorId: row?.id ?? null,
      action: 'auth.loginFailed',
      targetId: row?.id ?? null,
      ip: client.ip,
      details: { reason: row ? 'wrong_password' : 'unknown_email' },
    });
    throw unauthorized(LOGIN_FAILED_MESSAGE);
  }
  const user = row!;
  if (user.status !== 'active') {
    await recordAudit(deps.db, {
      actorId: user.id,
      action: 'auth.loginFailed',
      targetId: user.id,
      ip: client.ip,
      details: { reason: 'account_suspended' },
    });
    throw forbidden('account_suspended');
  }
  // An account with a second factor: the challenge of the sign-in's second step (mfa.ts).
  if (user.factor_kinds.length > 0) throw await loginChallenge(deps, user);
  const session = await startSession(deps, user, client, { action: 'auth.login' });
  if (!session) throw unauthorized(ACCOUNT_CHANGED_MESSAGE);
  return session;
}

/** auth.refresh: rotation. 1 statement on success; 2 when the token is refused. */
export async function refresh(deps: AuthDeps, refreshToken: string, client: ClientInfo): Promise<TokenPair> {
  const result = await rotateRefreshToken(deps.db, refreshToken, {
    ttlSeconds: deps.config.REFRESH_TOKEN_TTL_SECONDS,
    client,
  });
  if (result.kind === 'ok') return tokenPair(deps, result.claims, result.familyId, result.refreshToken);
  if (result.kind === 'reused') {
    // The family is revoked in Postgres; kill its live access tokens everywhere.
    await deps.revocations.announce(sessionRevocation(result.familyId, deps.tokens.ttlSeconds));
    await recordAudit(deps.db, {
      actorId: null,
      action: 'auth.refreshReuse',
      targetId: result.userId,
      ip: client.ip,
      details: { sessionId: result.familyId },
    });
  }
  throw unauthorized('Invalid or expired refresh token');
}

/** auth.logout: revokes the family of the refresh token and its access tokens. Unknown token → ok. */
export async function logout(
  deps: AuthDeps,
  refreshToken: string,
  client: ClientInfo,
): Promise<{ ok: true }> {
  const family = await revokeFamilyOf(deps.db, refreshToken);
  if (family) {
    await deps.revocations.announce(sessionRevocation(family.familyId, deps.tokens.ttlSeconds));
    await recordAudit(deps.db, {
      actorId: family.userId,
      action: 'auth.logout',
      targetId: family.userId,
      ip: client.ip,
      details: { sessionId: family.familyId },
    });
  }
  return { ok: true };
}

const tvaRow = z.object({ tva: z.number() });

/**
 * Ends every session of a user: bumps tokens_valid_after (access tokens) and revokes
 * the refresh tokens, with the audit entry, in one statement; then announces it.
 * Used by auth.logoutAll (actor = the user) and admin.users.* (see there).
 */
export async function endAllSessions(
  deps: Pick<AppDeps, 'db' | 'revocations'>,
  userId: string,
  audit: { actorId: string; action: AuditAction; ip: string },
): Promise<void> {
  const [row] = await queryRows(
    deps.db,
    tvaRow,
    sql`WITH bumped AS (
          UPDATE users SET tokens_valid_after = ${bumpTokensValidAfter()},
                 session_generation = session_generation + 1, updated_at = now()
          WHERE id = ${userId} RETURNING id, tokens_valid_after
        ), revoked AS (${revokeAllRefreshTokensOf(sql`SELECT id FROM bumped`)}),
        audit AS (
          ${auditInsert({ ...audit, targetId: sql`id` }, sql`bumped`)}
        )
        SELECT extract(epoch FROM tokens_valid_after)::float8 AS tva FROM bumped`,
  );
  if (row) await deps.revocations.announce(userRevocation(userId, row.tva));
}

/**
 * Re-checks the password of a signed-in user before a sensitive change. Failures count
 * against the login limiter (a stolen access token must not become a password oracle) and
 * are audited as `failure.action`. 1 statement on success (the claims read), 2 on failure.
 */
export async function reauthenticate(
  deps: Pick<AppDeps, 'db' | 'passwords' | 'loginLimiter' | 'hashGate'>,
  userId: string,
  password: string,
  client: ClientInfo,
  failure: { action: AuditAction; message: string },
): Promise<ClaimsRow> {
  const current = await readClaimsById(deps.db, userId);
  if (current?.status !== 'active') throw unauthorized();
  const { ok } = await checkPassword(deps, current.email, password, client, async () => current);
  if (!ok) {
    await recordAudit(deps.db, { actorId: userId, action: failure.action, targetId: userId, ip: client.ip });
    throw unauthorized(failure.message);
  }
  return current;
}

/**
 * auth.changePassword: verifies the current password (reauthenticate), then in one
 * statement stores the new hash, bumps tokens_valid_after, revokes every refresh token,
 * starts a new session and audits. Returns the new pair; every other session ends.
 */
export async function changePassword(
  deps: AuthDeps,
  userId: string,
  input: ChangePasswordInput,
  client: ClientInfo,
): Promise<AuthResult> {
  const current = await reauthenticate(deps, userId, input.currentPassword, client, {
    action: 'auth.changePasswordFailed',
    message: 'Current password is incorrect',
  });
  const passwordHash = await deps.hashGate.run(client.ip, () => deps.passwords.hash(input.newPassword));
  const refresh = newRefreshToken();
  const familyId = newFamilyId();
  // Only over the account as it was checked: a concurrent password change, suspension or
  // end of sessions since then wins, and this one answers UNAUTHORIZED.
  const [claims] = await queryRows(
    deps.db,
    claimsRow,
    sql`WITH u AS (
          UPDATE users SET password_hash = ${passwordHash}, tokens_valid_after = ${bumpTokensValidAfter()},
                 session_generation = session_generation + 1, updated_at = now()
          WHERE id = ${userId} AND status = 'active' AND deleted_at IS NULL
            AND password_hash = ${current.password_hash} AND session_generation = ${current.session_generation}
          RETURNING *
        ), revoked AS (${revokeAllRefreshTokensOf(sql`SELECT id FROM u`)}),
        rt AS (
          INSERT INTO refresh_tokens ${REFRESH_TOKEN_COLUMNS}
          SELECT ${refreshTokenValues({ userId: sql`u.id`, hash: refresh.hash, familyId: sql`${familyId}::uuid`, generation: sql`u.session_generation`, ttlSeconds: deps.config.REFRESH_TOKEN_TTL_SECONDS, client })}
          FROM u
        ), audit AS (
          ${auditInsert({ actorId: sql`u.id`, action: 'auth.changePassword', targetId: sql`u.id`, ip: client.ip }, sql`u`)}
        )
        ${claimsSelect(sql`u`)}`,
  );
  if (!claims) throw unauthorized();
  await deps.revocations.announce(userRevocation(userId, claims.tokens_valid_after));
  return { user: sessionUser(claims), ...(await tokenPair(deps, claims, familyId, refresh.token)) };
}
