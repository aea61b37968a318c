// The claims an access token carries — role, privilege level, permissions[], plan,
// features[] — read with ONE SQL statement straight from the base tables
// (users → roles → role_permissions → permissions; the active subscription → plans →
// plan_features → features; no active subscription, or one whose paid period has ended,
// → 'free'; the version of the privacy notice last accepted). Base tables, not the
// materialized views, so a user registered or re-planned a second ago gets correct
// claims (docs/decisions/claims-in-tokens.md).
//
// The SELECT list is a fragment so other statements can wrap it: register reads the
// claims of the user its own CTE just inserted, refresh reads them in the statement that
// consumes the refresh token, login reads them by email together with the password hash.
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import { USER_STATUSES } from '../../shared/catalog.ts';
import type { TokenSubject } from './tokens.ts';

/**
 * One row of a claims read: what a token needs plus what login/refresh decide on. No
 * transforms (they take zod off its fast path: ~2 µs a row instead of ~0.6 µs; npm run
 * bench:row-check), so the SQL returns every value as the token wants it.
 */
export const claimsRow = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  status: z.enum(USER_STATUSES),
  password_hash: z.string(),
  /** users.tokens_valid_after as whole epoch seconds (rounded up): the notBefore of new access tokens. */
  tokens_valid_after: z.number(),
  /** users.session_generation: which sessions are live (server/auth/refresh.ts). */
  session_generation: z.number(),
  /**
   * The database's clock (whole epoch seconds) when the row was read: the iat of a token
   * signed from it, so no token's iat is later than the statement that checked the user.
   * A change committed afterwards moves tokens_valid_after past it (bumpTokensValidAfter).
   */
  issued_at: z.number(),
  role: z.string(),
  privilege_level: z.number(),
  permissions: z.array(z.string()),
  plan: z.string(),
  features: z.array(z.string()),
  /** The privacy notice version the user last accepted (null: none yet). */
  privacy_notice: z.string().nullable(),
  /** users.email_verified_at IS NOT NULL. */
  email_verified: z.boolean(),
  /** How the session was authenticated and when (a refresh reads them from its session). */
  amr: z.array(z.string()).optional(),
  auth_time: z.number().optional(),
});
export type ClaimsRow = z.output<typeof claimsRow>;

/**
 * The subscription `s` is in effect: active, and its paid period (if any) has not ended.
 * A past period end counts as expired at once, before the expiry job marks it.
 */
export const subscriptionInEffect = (s: SQL) =>
  sql`${s}.status = 'active' AND (${s}.current_period_end IS NULL OR ${s}.current_period_end > now())`;

/**
 * `SELECT <claims columns> FROM <from> u JOIN roles ... JOIN plans ...`, where `from`
 * yields users rows aliased `u` (the users table, or a CTE that inserted one). Extra
 * columns (e.g. a refresh-token family) come in through `extraColumns`.
 */
export function claimsSelect(from: SQL, extraColumns: SQL = sql``): SQL {
  return sql`
    SELECT u.id, u.email, u.name, u.status, u.password_hash,
           ceil(extract(epoch FROM u.tokens_valid_after))::float8 AS tokens_valid_after,
           u.session_generation, floor(extract(epoch FROM clock_timestamp()))::float8 AS issued_at,
           r.name AS role, r.privilege_level::int AS privilege_level,
           ARRAY(SELECT p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id
                 WHERE rp.role_id = r.id ORDER BY p.name) AS permissions,
           pl.code AS plan,
           ARRAY(SELECT f.code FROM plan_features pf JOIN features f ON f.id = pf.feature_id
                 WHERE pf.plan_id = pl.id ORDER BY f.code) AS features,
           (SELECT c.notice_version FROM privacy_consents c WHERE c.user_id = u.id
            ORDER BY c.accepted_at DESC, c.id DESC LIMIT 1) AS privacy_notice,
           (u.email_verified_at IS NOT NULL) AS email_verified
           ${extraColumns}
    FROM ${from}
    JOIN roles r ON r.id = u.role_id
    JOIN plans pl ON pl.id = coalesce(
      (SELECT s.plan_id FROM subscriptions s WHERE s.user_id = u.id AND ${subscriptionInEffect(sql`s`)}),
      (SELECT id FROM plans WHERE code = 'free'))`;
}

/** Claims of a live (not deleted) user by id; undefined when there is none. */
export async function readClaimsById(db: Executor, userId: string): Promise<ClaimsRow | undefined> {
  const [row] = await queryRows(
    db,
    claimsRow,
    sql`${claimsSelect(sql`users u`)} WHERE u.id = ${userId} AND u.deleted_at IS NULL`,
  );
  return row;
}

/** Claims and password hash of a live user by email (case-insensitive). */
export async function readClaimsByEmail(db: Executor, email: string): Promise<ClaimsRow | undefined> {
  const [row] = await queryRows(
    db,
    claimsRow,
    sql`${claimsSelect(sql`users u`)} WHERE lower(u.email) = lower(${email}) AND u.deleted_at IS NULL`,
  );
  return row;
}

/**
 * When a token signed from `row` is issued: the statement's clock, lifted to
 * tokens_valid_after (a token issued in the second of a revocation is not mistaken for
 * one issued before it).
 */
export function issuedAt(row: Pick<ClaimsRow, 'issued_at' | 'tokens_valid_after'>): number {
  return Math.max(row.issued_at, row.tokens_valid_after);
}

/** What TokenService.sign needs, from a claims row. */
export function tokenSubject(row: ClaimsRow): TokenSubject {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    privilegeLevel: row.privilege_level,
    permissions: row.permissions,
    features: row.features,
    plan: row.plan,
    privacyNotice: row.privacy_notice,
    emailVerified: row.email_verified,
    amr: row.amr,
    auth_time: row.auth_time,
  };
}
