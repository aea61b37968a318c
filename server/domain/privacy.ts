// Privacy rights (DPDPA 2023; docs/decisions/privacy-rights.md): consent to the privacy
// notice, and erasure of an account after a cancellable grace period.
//
// Consent: the version accepted travels in the access token (`privacyNotice`), so the
// gate in server/trpc/init.ts costs no query; a new PRIVACY_NOTICE_VERSION asks again.
// Erasure: privacy.deleteAccount (password re-entered) schedules it; the erasure job then
// destroys the user's data key (their session notes become unreadable everywhere),
// deletes or anonymises their personal data, ends every token, and leaves a tombstone.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import { date, idRow, num } from '../../db/row.ts';
import { ACCESS_ACTIONS, type AccessAction } from '../../shared/audit.ts';
import type { TAccessLogInput } from '../../shared/inputs/privacy.ts';
import { auditInsert } from '../audit.ts';
import { claimsRow, claimsSelect, issuedAt, tokenSubject } from '../auth/claims.ts';
import type { ClientInfo } from '../auth/refresh.ts';
import { bumpedRow, bumpTokensValidAfter, userRevocation } from '../auth/revocation.ts';
import type { AccessClaims } from '../auth/tokens.ts';
import { addressedTo, queueEmail } from '../email/outbox.ts';
import { emailTime } from '../email/templates.ts';
import { decodeCursor, toPage } from '../keyset.ts';
import type { AppDeps } from '../services.ts';
import { assertCurrentNotice, reauthenticate } from './auth.ts';
import { conflict, unauthorized } from './errors.ts';

const acceptedRow = claimsRow.extend({ accepted_at: date });
const statusRow = z.object({
  version: z.string().nullable(),
  accepted_at: date.nullable(),
  deletion_requested_at: date.nullable(),
  deletion_due_at: date.nullable(),
});
/** A user's address and language, for the notice an erasure change sends. */
const recipient = { email: z.string(), name: z.string(), language: z.string().nullable() };
const dueRow = z.object({ due: date, fresh: z.boolean(), ...recipient });
const cancelledRow = z.object(recipient);

/**
 * privacy.acceptNotice: records the acceptance and returns a new access token for the same
 * session that carries it (the old one still lacks it). 1 statement.
 */
export async function acceptNotice(
  deps: Pick<AppDeps, 'db' | 'tokens' | 'config'>,
  auth: AccessClaims,
  version: string,
  ip: string,
) {
  assertCurrentNotice(deps.config, version);
  const [row] = await queryRows(
    deps.db,
    acceptedRow,
    sql`WITH c AS (
          INSERT INTO privacy_consents (user_id, notice_version, ip)
          SELECT id, ${version}, ${ip} FROM users
          WHERE id = ${auth.sub} AND status = 'active' AND deleted_at IS NULL
          RETURNING user_id, accepted_at
        ), audit AS (
          ${auditInsert({ actorId: sql`user_id`, action: 'privacy.acceptNotice', targetId: sql`user_id`, ip, details: { version } }, sql`c`)}
        )
        ${claimsSelect(sql`users u JOIN c ON c.user_id = u.id`, sql`, c.accepted_at`)}`,
  );
  if (!row) throw unauthorized();
  // The consent row is not visible to the statement's own SELECT (one snapshot).
  const claims = { ...row, privacy_notice: version };
  // The caller's session (how it was authenticated, and for an API key's token the key's
  // scopes and expiry) carries over.
  const { token } = await deps.tokens.reissue(auth, tokenSubject(claims), issuedAt(claims));
  return {
    version,
    acceptedAt: row.accepted_at,
    accessToken: token,
    expiresIn: deps.tokens.ttlSeconds,
  };
}

/** privacy.status: the notice accepted, and any scheduled erasure. 1 query. */
export async function privacyStatus(db: Executor, config: AppDeps['config'], userId: string) {
  const [row] = await queryRows(
    db,
    statusRow,
    sql`SELECT c.notice_version AS version, c.accepted_at, u.deletion_requested_at, u.deletion_due_at
        FROM users u
        LEFT JOIN LATERAL (
          SELECT notice_version, accepted_at FROM privacy_consents
          WHERE user_id = u.id ORDER BY accepted_at DESC, id DESC LIMIT 1
        ) c ON true
        WHERE u.id = ${userId} AND u.deleted_at IS NULL`,
  );
  if (!row) throw unauthorized();
  return {
    currentNotice: config.PRIVACY_NOTICE_VERSION,
    acceptedNotice: row.version,
    acceptedAt: row.accepted_at,
    deletionRequestedAt: row.deletion_requested_at,
    deletionDueAt: row.deletion_due_at,
  };
}

/**
 * privacy.deleteAccount: the password is checked as in auth.changePassword (failures count
 * against the login limiter, so a stolen access token cannot erase an account or probe the
 * password), then the erasure is scheduled ACCOUNT_DELETION_GRACE_HOURS ahead and the owner
 * is told by email (erasureScheduled, queued in the same transaction). Asking again keeps
 * the first schedule and sends nothing. 3 statements.
 */
export async function requestDeletion(
  deps: Pick<AppDeps, 'db' | 'passwords' | 'loginLimiter' | 'hashGate' | 'config' | 'queue' | 'notes'>,
  userId: string,
  password: string,
  client: ClientInfo,
): Promise<{ deletionDueAt: Date }> {
  await reauthenticate(deps, userId, password, client, {
    action: 'privacy.deleteAccountFailed',
    message: 'Password is incorrect',
  });
  const row = await deps.db.transaction(async (tx) => {
    const [scheduled] = await queryRows(
      tx,
      dueRow,
      sql`WITH before AS (
            SELECT deletion_due_at IS NULL AS fresh FROM users WHERE id = ${userId}
          ), u AS (
            UPDATE users SET deletion_requested_at = coalesce(deletion_requested_at, now()),
                   deletion_due_at = coalesce(deletion_due_at,
                     now() + make_interval(hours => ${deps.config.ACCOUNT_DELETION_GRACE_HOURS})),
                   updated_at = now()
            WHERE id = ${userId} AND deleted_at IS NULL
            RETURNING id, email, name, language, deletion_due_at
          ), audit AS (
            ${auditInsert({ actorId: sql`id`, action: 'privacy.deleteAccount', targetId: sql`id`, ip: client.ip, details: sql`jsonb_build_object('dueAt', deletion_due_at)` }, sql`u`)}
          )
          SELECT deletion_due_at AS due, (SELECT fresh FROM before) AS fresh, email, name, language FROM u`,
    );
    if (scheduled?.fresh)
      await queueEmail(deps, tx, {
        template: 'erasureScheduled',
        ...addressedTo(scheduled),
        vars: { name: scheduled.name, dueAt: emailTime(scheduled.due) },
      });
    return scheduled;
  });
  if (!row) throw unauthorized();
  return { deletionDueAt: row.due };
}

/**
 * privacy.cancelDeletion: while the grace period runs; the owner is told by email
 * (erasureCancelled, same transaction). 2 statements; nothing scheduled → CONFLICT.
 */
export async function cancelDeletion(
  deps: Pick<AppDeps, 'db' | 'queue' | 'notes'>,
  userId: string,
  ip: string,
): Promise<{ ok: true }> {
  const row = await deps.db.transaction(async (tx) => {
    const [cancelled] = await queryRows(
      tx,
      cancelledRow,
      sql`WITH u AS (
            UPDATE users SET deletion_requested_at = NULL, deletion_due_at = NULL, updated_at = now()
            WHERE id = ${userId} AND deleted_at IS NULL AND deletion_due_at IS NOT NULL
            RETURNING id, email, name, language
          ), audit AS (
            ${auditInsert({ actorId: sql`id`, action: 'privacy.cancelDeletion', targetId: sql`id`, ip }, sql`u`)}
          )
          SELECT email, name, language FROM u`,
    );
    if (cancelled)
      await queueEmail(deps, tx, {
        template: 'erasureCancelled',
        ...addressedTo(cancelled),
        vars: { name: cancelled.name },
      });
    return cancelled;
  });
  if (!row) throw conflict('No account deletion is scheduled');
  return { ok: true };
}

/** Accounts erased per statement of the erasure job. */
const ERASURE_BATCH = 100;
/** How long the erasureDone email's job (which holds the erased address) is kept once sent. */
const ERASED_EMAIL_RETENTION_SECONDS = 3600;
const erasedRow = bumpedRow.extend(recipient).omit({ name: true });
/** Marks an erased account's email (unique, valid, never deliverable). */
export const ERASED_EMAIL_DOMAIN = 'erased.invalid';

/**
 * The erasure job's work, ONE statement per batch of accounts whose grace period is over:
 * - crypto-shredding: the data key is deleted, so every copy of the notes sealed with it
 *   (backups, replicas) is unreadable; the note rows go too;
 * - deleted: mood entries, assessments (their crisis alerts cascade), consents,
 *   subscription, refresh tokens, therapist profile, support tickets (their messages
 *   cascade), API keys;
 * - cancelled: upcoming sessions the account takes part in (frees the other party's slot);
 *   past sessions stay, pointing at the anonymised account (the retention rule);
 * - anonymised: the users row (no email, name, phone; no usable password; deleted_at set);
 *   audit entries by or about the account lose their IP, details and request id
 *   (scrub_audit_log, migrations/0015: the log is otherwise append-only);
 * - tokens: tokens_valid_after bumped (access tokens die at once, announced after);
 * - a tombstone audit entry 'privacy.accountErased' with no personal data.
 * Payment orders stay (financial records; no personal data beyond the pseudonymous id).
 */
export async function eraseDueAccounts(
  tx: Executor,
  deps: Pick<AppDeps, 'revocations' | 'queue' | 'notes'>,
): Promise<{ erased: number }> {
  let erased = 0;
  for (;;) {
    const rows = await queryRows(
      tx,
      erasedRow,
      sql`WITH due AS (
            SELECT id, email, language FROM users WHERE deletion_due_at <= now() AND deleted_at IS NULL
            ORDER BY deletion_due_at LIMIT ${ERASURE_BATCH} FOR UPDATE SKIP LOCKED
          ), shredded AS (
            DELETE FROM user_data_keys WHERE user_id IN (SELECT id FROM due) RETURNING user_id
          ), notes AS (
            DELETE FROM session_notes n USING therapy_sessions ts
            WHERE n.session_id = ts.id AND ts.patient_id IN (SELECT id FROM due) RETURNING n.id
          ), cancelled AS (
            UPDATE therapy_sessions SET status = 'cancelled', cancelled_at = now(),
                   cancelled_by = CASE WHEN patient_id IN (SELECT id FROM due) THEN patient_id ELSE therapist_id END
            WHERE (patient_id IN (SELECT id FROM due) OR therapist_id IN (SELECT id FROM due))
              AND status = 'booked' AND starts_at > now()
            RETURNING id
          ), mood AS (DELETE FROM mood_entries WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          assessed AS (DELETE FROM assessments WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          consents AS (DELETE FROM privacy_consents WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          subs AS (DELETE FROM subscriptions WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          profiles AS (DELETE FROM therapist_profiles WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          -- Their tickets (subjects, and every message in them, cascade); replies they wrote
          -- as staff in other users' tickets stay there, pointing at the anonymised account.
          tickets AS (DELETE FROM support_tickets WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          -- Their API keys: the keys cannot be exchanged any more, and the tokens already
          -- exchanged die with the tokens_valid_after bump below (their sub is the owner).
          keys AS (DELETE FROM api_keys WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          -- Their second factors (TOTP secrets, passkeys) and recovery codes.
          factors AS (DELETE FROM mfa_factors WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          recovery AS (DELETE FROM mfa_recovery_codes WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          -- Their pending reset and confirmation links, the results their Idempotency-Keys kept
          -- (a mutation's answer: health data), and their on-call entries.
          links AS (DELETE FROM account_tokens WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          replays AS (DELETE FROM idempotency_keys WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          on_call AS (DELETE FROM crisis_on_call WHERE user_id IN (SELECT id FROM due) RETURNING 1),
          erased AS (
            UPDATE users u SET email = 'erased-' || u.id || ${`@${ERASED_EMAIL_DOMAIN}`}, name = 'Deleted user',
                   phone = NULL, language = NULL, password_hash = '!erased', suspended_reason = NULL,
                   failed_logins = 0, locked_until = NULL, last_login_at = NULL,
                   deleted_at = now(), deletion_due_at = NULL,
                   tokens_valid_after = ${bumpTokensValidAfter()}, updated_at = now()
            FROM due WHERE u.id = due.id
            RETURNING u.id, extract(epoch FROM u.tokens_valid_after)::float8 AS tva
          ), tombstone AS (
            ${auditInsert(
              {
                actorId: null,
                action: 'privacy.accountErased',
                targetId: sql`e.id`,
                details: sql`jsonb_build_object('dataKeyDestroyed', e.id IN (SELECT user_id FROM shredded))`,
              },
              sql`erased e`,
            )}
          )
          -- The audit log is append-only (migrations/0015): scrub_audit_log() is the one way to
          -- take the IP, details and request id off the entries by or about the accounts.
          SELECT e.id, e.tva, d.email, d.language, (SELECT scrub_audit_log(ARRAY(SELECT id FROM due))) AS scrubbed
          FROM erased e JOIN due d ON d.id = e.id`,
    );
    // Refresh tokens go in a statement of their own: setting deleted_at fires the soft-delete
    // trigger (migrations/0004), which revokes them, and one statement may not change a row twice.
    if (rows.length > 0)
      await tx.execute(
        sql`DELETE FROM refresh_tokens WHERE user_id IN (${sql.join(
          rows.map((r) => sql`${r.id}::uuid`),
          sql`, `,
        )})`,
      );
    // The last email to the address (erasureDone): its job, which holds the address, is
    // deleted an hour after it is sent.
    for (const r of rows)
      await queueEmail(
        deps,
        tx,
        { template: 'erasureDone', ...addressedTo(r) },
        { deleteAfterSeconds: ERASED_EMAIL_RETENTION_SECONDS },
      );
    if (rows.length > 0) await deps.revocations.announce(...rows.map((r) => userRevocation(r.id, r.tva)));
    erased += rows.length;
    if (rows.length < ERASURE_BATCH) return { erased };
  }
}

const accessRow = z.object({
  id: num,
  at: date,
  action: z.enum(Object.keys(ACCESS_ACTIONS) as [AccessAction, ...AccessAction[]]),
  name: z.string().nullable(),
  role: z.string().nullable(),
});

/**
 * privacy.accessLog: who read the caller's health data (shared/audit.ts ACCESS_ACTIONS),
 * newest first, keyset pages on the entry id. Only the reader's name and role: never a staff
 * member's contact details, ip or ids. One SELECT on audit_log_target_idx; only the
 * caller's own entries can match.
 */
export async function accessLog(db: Executor, userId: string, input: TAccessLogInput) {
  const after = decodeCursor(input.cursor, ['integer']);
  const actions = sql.join(
    Object.keys(ACCESS_ACTIONS).map((a) => sql`${a}`),
    sql`, `,
  );
  const rows = await queryRows(
    db,
    accessRow,
    sql`SELECT a.id, a.at, a.action, u.name, r.name AS role
        FROM audit_log a
        LEFT JOIN users u ON u.id = a.actor_id
        LEFT JOIN roles r ON r.id = u.role_id
        WHERE a.target_id = ${userId} AND a.action IN (${actions})
          AND a.actor_id IS DISTINCT FROM a.target_id
          ${after ? sql`AND a.id < ${after[0]}` : sql``}
        ORDER BY a.id DESC
        LIMIT ${input.limit + 1}`,
  );
  return toPage(
    rows,
    input.limit,
    (r) => [r.id],
    (r) => ({
      id: r.id,
      at: r.at,
      /** What was read: 'session_notes', 'crisis_alert', 'account' or 'therapy_record'. */
      data: ACCESS_ACTIONS[r.action],
      /** The procedure that read it. */
      via: r.action,
      /** Who: name and role only (null when that account no longer exists). */
      by: { name: r.name, role: r.role },
    }),
  );
}
