// What the account does by email: password recovery (auth.requestPasswordReset,
// auth.resetPassword), confirmed addresses (auth.verifyEmail, auth.requestEmailVerification,
// users.changeEmail) and the notices that go with them. Tokens are 32 random bytes sent in
// a link; only their SHA-256 is stored (account_tokens), each is single-use and expires.
//
// A reset request answers the same, in the same time, whether or not the address has an
// account: the request only enqueues an `account` job (one INSERT, the same for any
// address); the worker looks the address up and, for an active account, issues the token
// and enqueues the email. Suspended and erased accounts get nothing.
import { sql } from 'drizzle-orm';
import type { Job } from 'pg-boss';
import { z } from 'zod';
import { queryRows, uniqueViolation } from '../../db/client.ts';
import type {
  ChangeEmailInput,
  RequestPasswordResetInput,
  ResendConfirmationInput,
  ResetPasswordInput,
} from '../../shared/inputs/auth.ts';
import { auditInsert, recordAudit } from '../audit.ts';
import type { ClientInfo } from '../auth/refresh.ts';
import { revokeAllRefreshTokensOf } from '../auth/refresh.ts';
import { bumpTokensValidAfter, userRevocation } from '../auth/revocation.ts';
import { addressedTo, LINK_PATHS, queueEmail } from '../email/outbox.ts';
import { localeOf } from '../email/templates.ts';
import type { AppDeps } from '../services.ts';
import { reauthenticate } from './auth.ts';
import {
  type AccountJob,
  activeUserByEmail,
  hashEmailToken,
  INVALID_LINK_MESSAGE,
  issueToken,
  PASSWORD_RESET_TTL_SECONDS,
  queueEmailVerification,
  userRow,
  VERIFY_EMAIL_TTL_SECONDS,
} from './email-tokens.ts';
import { badRequest } from './errors.ts';

/**
 * auth.requestPasswordReset: rate-limited per address and per IP, then one INSERT (the
 * job), whatever the address. Always { ok: true }.
 */
export async function requestPasswordReset(
  deps: Pick<AppDeps, 'db' | 'queue' | 'quotas'>,
  input: RequestPasswordResetInput,
  ip: string,
): Promise<{ ok: true }> {
  await deps.quotas.resetPerIp.consume(ip);
  await deps.quotas.resetPerEmail.consume(hashEmailToken(input.email.toLowerCase()));
  const job: AccountJob = { kind: 'passwordReset', email: input.email };
  await deps.queue.enqueue(deps.db, 'account', job);
  return { ok: true };
}

/**
 * auth.resendConfirmation: rate-limited per address (3 an hour, whether or not it has an
 * account: the answer must not tell; per IP by the procedure's 'register' limit), then one
 * INSERT (the job), whatever the address. Always { ok: true }.
 */
export async function resendConfirmation(
  deps: Pick<AppDeps, 'db' | 'queue' | 'quotas'>,
  input: ResendConfirmationInput,
): Promise<{ ok: true }> {
  await deps.quotas.verifyEmail.consume(`address:${hashEmailToken(input.email.toLowerCase())}`);
  const job: AccountJob = { kind: 'resendConfirmation', email: input.email };
  await deps.queue.enqueue(deps.db, 'account', job);
  return { ok: true };
}

/**
 * The `account` queue's worker: one job in one transaction. A confirmation link goes to an
 * account whose address is not confirmed yet — a pending registration, or an active
 * account from before registration needed confirming; the other jobs write only to
 * active accounts.
 */
export async function processAccountJob(
  deps: Pick<AppDeps, 'db' | 'queue' | 'notes'>,
  job: Job<AccountJob>,
): Promise<void> {
  const data = job.data;
  await deps.db.transaction(async (tx) => {
    if (data.kind === 'resendConfirmation') {
      const [unconfirmed] = await queryRows(
        tx,
        userRow,
        sql`SELECT id, email, name, language FROM users
            WHERE lower(email) = lower(${data.email}) AND status IN ('pending', 'active')
              AND email_verified_at IS NULL AND deleted_at IS NULL`,
      );
      if (unconfirmed) await queueEmailVerification(deps, tx, unconfirmed);
      return;
    }
    const user = await activeUserByEmail(tx, data.email);
    if (!user) return; // unknown, suspended or erased: nothing is sent
    const locale = localeOf(user.language);
    if (data.kind === 'passwordReset') {
      const token = await issueToken(tx, user.id, 'password_reset', user.email, PASSWORD_RESET_TTL_SECONDS);
      await recordAudit(tx, {
        actorId: null,
        action: 'auth.passwordResetRequested',
        targetId: user.id,
      });
      await queueEmail(deps, tx, {
        template: 'passwordReset',
        to: user.email,
        locale,
        vars: { name: user.name },
        link: { path: LINK_PATHS.resetPassword, token },
      });
    } else {
      // Its action link is a password reset: the owner may have forgotten the password.
      const token = await issueToken(tx, user.id, 'password_reset', user.email, PASSWORD_RESET_TTL_SECONDS);
      await queueEmail(deps, tx, {
        template: 'accountExists',
        to: user.email,
        locale,
        vars: { name: user.name },
        link: { path: LINK_PATHS.resetPassword, token },
      });
    }
  });
}

const resetRow = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  language: z.string().nullable(),
  tva: z.number(),
});

/**
 * auth.resetPassword: the token is consumed, the password set, every session ended
 * (tokens_valid_after, session generation, refresh tokens), the address counts as
 * confirmed (the link reached it), audited — one statement — and "your password was
 * changed" queued in the same transaction. A token that is unknown, used, expired, or
 * whose account is suspended, erased or has changed address → BAD_REQUEST.
 */
export async function resetPassword(
  deps: Pick<AppDeps, 'db' | 'queue' | 'notes' | 'passwords' | 'hashGate' | 'revocations'>,
  input: ResetPasswordInput,
  client: ClientInfo,
): Promise<{ ok: true }> {
  const passwordHash = await deps.hashGate.run(client.ip, () => deps.passwords.hash(input.newPassword));
  const hash = hashEmailToken(input.token);
  const user = await deps.db.transaction(async (tx) => {
    const [row] = await queryRows(
      tx,
      resetRow,
      sql`WITH t AS (
            UPDATE account_tokens SET used_at = now()
            WHERE token_hash = ${hash} AND purpose = 'password_reset' AND used_at IS NULL AND expires_at > now()
            RETURNING user_id, email
          ), u AS (
            UPDATE users SET password_hash = ${passwordHash}, tokens_valid_after = ${bumpTokensValidAfter()},
                   session_generation = session_generation + 1,
                   email_verified_at = coalesce(email_verified_at, now()), updated_at = now()
            FROM t
            WHERE users.id = t.user_id AND users.status = 'active' AND users.deleted_at IS NULL
              AND lower(users.email) = lower(t.email)
            RETURNING users.id, users.email, users.name, users.language,
                      extract(epoch FROM users.tokens_valid_after)::float8 AS tva
          ), revoked AS (${revokeAllRefreshTokensOf(sql`SELECT id FROM u`)}),
          audit AS (
            ${auditInsert({ actorId: sql`u.id`, action: 'auth.resetPassword', targetId: sql`u.id`, ip: client.ip }, sql`u`)}
          )
          SELECT id, email, name, language, tva FROM u`,
    );
    if (!row) return undefined;
    await queueEmail(deps, tx, {
      template: 'passwordChanged',
      ...addressedTo(row),
      vars: { name: row.name },
    });
    return row;
  });
  if (!user) throw badRequest(INVALID_LINK_MESSAGE);
  await deps.revocations.announce(userRevocation(user.id, user.tva));
  return { ok: true };
}

/** auth.requestEmailVerification: a new link for the caller's unconfirmed address (3 an hour). */
export async function requestEmailVerification(
  deps: Pick<AppDeps, 'db' | 'queue' | 'notes' | 'quotas'>,
  userId: string,
): Promise<{ ok: true }> {
  await deps.quotas.verifyEmail.consume(userId);
  await deps.db.transaction(async (tx) => {
    const [user] = await queryRows(
      tx,
      userRow,
      sql`SELECT id, email, name, language FROM users
          WHERE id = ${userId} AND status = 'active' AND deleted_at IS NULL AND email_verified_at IS NULL`,
    );
    if (user) await queueEmailVerification(deps, tx, user);
  });
  return { ok: true };
}

const verifiedRow = z.object({ id: z.string(), purpose: z.string() });

/**
 * auth.verifyEmail: consumes a confirmation token. For the account's own address it marks
 * it confirmed — a pending registration becomes active (no session is returned: the client
 * logs in); for users.changeEmail's new address it
 * becomes the account's address, confirmed. One statement. A signed-in caller's next token
 * (auth.refresh) carries emailVerified.
 */
export async function verifyEmail(
  deps: Pick<AppDeps, 'db'>,
  token: string,
  ip: string,
): Promise<{ ok: true }> {
  const hash = hashEmailToken(token);
  let rows: z.output<typeof verifiedRow>[];
  try {
    rows = await queryRows(
      deps.db,
      verifiedRow,
      sql`WITH t AS (
            UPDATE account_tokens SET used_at = now()
            WHERE token_hash = ${hash} AND purpose IN ('verify_email', 'change_email')
              AND used_at IS NULL AND expires_at > now()
            RETURNING user_id, email, purpose
          ), u AS (
            UPDATE users SET email = t.email, email_verified_at = now(), status = 'active', updated_at = now()
            FROM t
            WHERE users.id = t.user_id AND users.status IN ('active', 'pending') AND users.deleted_at IS NULL
              AND (t.purpose = 'change_email' OR lower(users.email) = lower(t.email))
            RETURNING users.id, t.purpose
          ), audit AS (
            ${auditInsert(
              {
                actorId: sql`u.id`,
                action: sql`CASE WHEN u.purpose = 'change_email' THEN 'users.emailChanged' ELSE 'auth.verifyEmail' END`,
                targetId: sql`u.id`,
                ip,
              },
              sql`u`,
            )}
          )
          SELECT id, purpose FROM u`,
    );
  } catch (err) {
    // The new address was taken by another account since the change was asked for.
    if (uniqueViolation(err) === 'users_email_lower_uq') throw badRequest(INVALID_LINK_MESSAGE);
    throw err;
  }
  if (rows.length === 0) throw badRequest(INVALID_LINK_MESSAGE);
  return { ok: true };
}

/**
 * users.changeEmail: the password again (reauthenticate); then a confirmation link to the
 * new address (the change happens when it is followed: auth.verifyEmail) and a notice to
 * the current one, in one transaction. An address another account has gets "you already
 * have an account" instead, and the answer is the same.
 */
export async function changeEmail(
  deps: Pick<AppDeps, 'db' | 'queue' | 'notes' | 'passwords' | 'loginLimiter' | 'hashGate'>,
  userId: string,
  input: ChangeEmailInput,
  client: ClientInfo,
): Promise<{ ok: true }> {
  const current = await reauthenticate(deps, userId, input.password, client, {
    action: 'users.changeEmailFailed',
    message: 'Password is incorrect',
  });
  if (current.email.toLowerCase() === input.newEmail) throw badRequest('This is already your address');
  const [me] = await queryRows(
    deps.db,
    z.object({ language: z.string().nullable() }),
    sql`SELECT language FROM users WHERE id = ${userId}`,
  );
  const locale = localeOf(me?.language);
  await deps.db.transaction(async (tx) => {
    const taken = await queryRows(
      tx,
      z.object({ id: z.string() }),
      sql`SELECT id FROM users WHERE lower(email) = lower(${input.newEmail})`,
    );
    if (taken.length > 0) {
      const job: AccountJob = { kind: 'accountExists', email: input.newEmail };
      await deps.queue.enqueue(tx, 'account', job);
    } else {
      const token = await issueToken(tx, userId, 'change_email', input.newEmail, VERIFY_EMAIL_TTL_SECONDS);
      await queueEmail(deps, tx, {
        template: 'verifyEmail',
        to: input.newEmail,
        locale,
        vars: { name: current.name },
        link: { path: LINK_PATHS.verifyEmail, token },
      });
    }
    await queueEmail(deps, tx, {
      template: 'emailChangeRequested',
      to: current.email,
      locale,
      vars: { name: current.name, newEmail: input.newEmail },
    });
    await recordAudit(tx, { actorId: userId, action: 'users.changeEmail', targetId: userId, ip: client.ip });
  });
  return { ok: true };
}
