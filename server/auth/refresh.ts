// Refresh tokens: opaque 256-bit random strings (base64url); only their SHA-256 (hex) is
// stored. A token is consumed atomically and rotated on every use (same family, parent
// link). Presenting a token that was already used, after a short grace window for a
// lost response, means it leaked: the whole family is revoked. Each token carries how its
// session was authenticated (amr, auth_time), so a refresh keeps the second factor the
// session was signed in with, and its time.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import { type ClaimsRow, claimsRow, claimsSelect } from './claims.ts';

/** A used token presented again within this many seconds is refused without revoking. */
export const REFRESH_REUSE_GRACE_SECONDS = 5;

/** Where a session was started or refreshed from (stored with the token). */
export interface ClientInfo {
  ip: string;
  userAgent?: string | undefined;
}

export interface NewRefreshToken {
  token: string;
  hash: string;
}

export function newRefreshToken(): NewRefreshToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newFamilyId(): string {
  return randomUUID();
}

/**
 * The VALUES of a refresh_tokens row for `INSERT INTO refresh_tokens (user_id,
 * token_hash, family_id, parent_id, expires_at, user_agent, ip, session_generation)
 * SELECT ...`. `generation` is the users.session_generation the session was created
 * under, read in the same statement.
 */
export function refreshTokenValues(opts: {
  userId: SQL;
  hash: string;
  familyId: SQL;
  parentId?: SQL;
  generation: SQL;
  ttlSeconds: number;
  client: ClientInfo;
}): SQL {
  const ua = opts.client.userAgent?.slice(0, 256) ?? null;
  return sql`${opts.userId}, ${opts.hash}, ${opts.familyId}, ${opts.parentId ?? sql`NULL::uuid`},
             now() + make_interval(secs => ${opts.ttlSeconds}), ${ua}, ${opts.client.ip.slice(0, 64)},
             ${opts.generation}`;
}

export const REFRESH_TOKEN_COLUMNS = sql`(user_id, token_hash, family_id, parent_id, expires_at, user_agent, ip, session_generation)`;

/**
 * REFRESH_TOKEN_COLUMNS and how the session was authenticated: amr (RFC 8176) and
 * auth_time (the column defaults are a password, now).
 */
export const REFRESH_TOKEN_AUTH_COLUMNS = sql`(user_id, token_hash, family_id, parent_id, expires_at, user_agent, ip, session_generation, amr, auth_time)`;

/** A session's amr and auth_time as the claims rows carry them. */
export const SESSION_AUTH_COLUMNS = (t: SQL) =>
  sql`${t}.amr, floor(extract(epoch FROM ${t}.auth_time))::float8 AS auth_time`;

export type RotateResult =
  | { kind: 'ok'; claims: ClaimsRow; familyId: string; refreshToken: string }
  /** A used token presented after the grace window: its family is now revoked. */
  | { kind: 'reused'; familyId: string; userId: string }
  /** Unknown, expired, revoked, suspended user, or a used token within the grace window. */
  | { kind: 'invalid' };

const rotatedRow = claimsRow.extend({ family_id: z.string() });
const familyRow = z.object({ family_id: z.string(), user_id: z.string() });
const replayRow = familyRow.extend({ reused: z.boolean() });

/**
 * Consumes `token` and issues its successor, reading the claims for the new access
 * token in the same statement. The UPDATE ... WHERE used_at IS NULL makes two parallel
 * refreshes of one token produce at most one successor: the second waits on the row
 * lock, re-checks the condition and matches nothing. A token whose session generation is
 * not the user's current one (a logout-all, password change, suspension or revoke since
 * the session began, even one that committed while this session was being created) does
 * not rotate; the successor inherits the token's generation, so a change committed while
 * this statement runs kills the successor too.
 */
export async function rotateRefreshToken(
  db: Executor,
  token: string,
  opts: { ttlSeconds: number; client: ClientInfo },
): Promise<RotateResult> {
  const hash = hashRefreshToken(token);
  const next = newRefreshToken();
  const rows = await queryRows(
    db,
    rotatedRow,
    sql`WITH consumed AS (
          UPDATE refresh_tokens t SET used_at = now()
          WHERE t.token_hash = ${hash} AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now()
            AND EXISTS (SELECT 1 FROM users su WHERE su.id = t.user_id AND su.status = 'active'
                        AND su.deleted_at IS NULL AND su.session_generation = t.session_generation)
          RETURNING t.id, t.user_id, t.family_id, t.session_generation, t.amr, t.auth_time
        ), successor AS (
          INSERT INTO refresh_tokens ${REFRESH_TOKEN_AUTH_COLUMNS}
          SELECT ${refreshTokenValues({ userId: sql`c.user_id`, hash: next.hash, familyId: sql`c.family_id`, parentId: sql`c.id`, generation: sql`c.session_generation`, ...opts })},
                 c.amr, c.auth_time
          FROM consumed c
        )
        ${claimsSelect(sql`consumed c JOIN users u ON u.id = c.user_id`, sql`, c.family_id, ${SESSION_AUTH_COLUMNS(sql`c`)}`)}`,
  );
  const row = rows[0];
  if (row) return { kind: 'ok', claims: row, familyId: row.family_id, refreshToken: next.token };

  // Nothing consumed. A used, unrevoked token outside the grace window is a replay:
  // revoke its family in the same statement that finds out.
  const [found] = await queryRows(
    db,
    replayRow,
    sql`WITH tok AS (
          SELECT family_id, user_id,
                 (used_at IS NOT NULL AND revoked_at IS NULL
                  AND used_at < now() - make_interval(secs => ${REFRESH_REUSE_GRACE_SECONDS})) AS reused
          FROM refresh_tokens WHERE token_hash = ${hash}
        ), revoked AS (
          UPDATE refresh_tokens SET revoked_at = now()
          WHERE family_id IN (SELECT family_id FROM tok WHERE reused) AND revoked_at IS NULL
        )
        SELECT family_id, user_id, reused FROM tok`,
  );
  if (found?.reused) return { kind: 'reused', familyId: found.family_id, userId: found.user_id };
  return { kind: 'invalid' };
}

/** Revokes the family of `token` (logout). Returns the family, or undefined for an unknown token. */
export async function revokeFamilyOf(
  db: Executor,
  token: string,
): Promise<{ familyId: string; userId: string } | undefined> {
  const [row] = await queryRows(
    db,
    familyRow,
    sql`WITH tok AS (SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = ${hashRefreshToken(token)}),
        revoked AS (
          UPDATE refresh_tokens SET revoked_at = now()
          WHERE family_id IN (SELECT family_id FROM tok) AND revoked_at IS NULL
        )
        SELECT family_id, user_id FROM tok`,
  );
  return row && { familyId: row.family_id, userId: row.user_id };
}

/** SQL that revokes every live refresh token of the users `userIds` yields. */
export function revokeAllRefreshTokensOf(userIds: SQL): SQL {
  return sql`UPDATE refresh_tokens SET revoked_at = now() WHERE user_id IN (${userIds}) AND revoked_at IS NULL`;
}
