// What admin.users.* mutations do to an account: role, plan, suspension and sessions.
// Each is ONE statement that checks the privilege rule, changes the user, bumps
// tokens_valid_after (so the user's live access tokens die on every instance at once),
// revokes refresh tokens where the action ends sessions, and writes the audit entry.
// The privilege rule sits in the UPDATE's WHERE, evaluated against the row it locks, so
// a concurrent role change cannot slip between the check and the write:
//   an actor never changes a user whose current privilege is >= its own, and never
//   grants a role whose privilege is >= its own.
// Also the console's user list and detail (admin.users.list / get), read from the base
// tables (users, roles, subscriptions, plans) so a change made a moment ago shows at once,
// one statement each. Indexes (db/schema/users.ts): pg_trgm GIN on lower(email) and
// lower(name) for "any part of" search (asked for the part before an "@" only: see
// indexedFragment); (created_at, id), lower(email) and (lower(name), id) for the sorts; the
// same three orders per role (role_id, …, id, then the columns the walk reads, so a role's
// walk is index-only: migration 0021) and for suspended users (partial) for the filters;
// subscriptions (plan_id, user_id) of active ones for the plan filter, which a search page
// applies after sorting its matches. `npm run bench:admin-users` measures pages at
// 1,000,000 users (README).

import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../../db/client.ts';
import { date } from '../../db/row.ts';
import type { AuditAction } from '../../shared/audit.ts';
import { USER_STATUSES } from '../../shared/catalog.ts';
import type { AdminUsersListInput } from '../../shared/inputs/admin-users.ts';
import { accessAudit, auditInsert, type Reader } from '../audit.ts';
import { revokeAllRefreshTokensOf } from '../auth/refresh.ts';
import { bumpTokensValidAfter, userRevocation } from '../auth/revocation.ts';
import { decodeCursor, exactTimestamp, toPage } from '../keyset.ts';
import type { AppDeps } from '../services.ts';
import { forbidden, notFound } from './errors.ts';

export interface Actor {
  id: string;
  privilegeLevel: number;
  ip: string;
}

interface UserChange {
  /** Audit action (shared/audit.ts), e.g. admin.users.setRole. */
  action: AuditAction;
  details?: Record<string, unknown>;
  /**
   * What the change replaces, added to the audit details: the role before a role change
   * (previousRole), the plan in effect before a plan change (previousPlan).
   */
  previous?: 'role' | 'plan';
  /** Assignments for UPDATE users SET ... (besides tokens_valid_after and updated_at). */
  set?: SQL;
  /** Extra condition of the UPDATE (e.g. the granted role is below the actor). */
  guard?: SQL;
  /**
   * A value that must exist for the change to make sense (the role or plan named in the
   * input); NULL → NOT_FOUND `missing`.
   */
  requires?: { value: SQL; missing: string };
  /** More CTEs that run only for the changed row; they may select from `changed`. */
  alsoCtes?: SQL;
  /** Kill the user's live access tokens (tokens_valid_after). */
  bumpTokens: boolean;
  /** End the user's sessions: revoke every refresh token and bump the session generation. */
  revokeRefreshTokens: boolean;
}

/** The target's value a change replaces (UserChange.previous), read in the same statement. */
const previousValue = {
  none: sql`NULL::text`,
  role: sql`r.name`,
  // The plan in effect, as subscriptions.current names it: the subscribed plan while it is
  // active and its period runs, else free.
  plan: sql`coalesce((SELECT p.code FROM subscriptions s JOIN plans p ON p.id = s.plan_id
    WHERE s.user_id = u.id AND s.status = 'active'
      AND (s.current_period_end IS NULL OR s.current_period_end > now())), 'free')`,
} as const;
const previousKey = { role: 'previousRole', plan: 'previousPlan' } as const;

/** `required`: whatever change.requires selects (null: it does not exist). */
const changeRow = z.object({ required: z.unknown(), changed: z.boolean(), tva: z.number().nullable() });

/** Runs one admin change against the target user; throws NOT_FOUND or FORBIDDEN. 1 statement. */
async function changeUser(
  deps: Pick<AppDeps, 'db' | 'revocations'>,
  actor: Actor,
  userId: string,
  change: UserChange,
) {
  const assignments = [
    change.set,
    change.bumpTokens ? sql`tokens_valid_after = ${bumpTokensValidAfter()}` : undefined,
    // Sessions end: a refresh token created concurrently carries the old generation.
    change.revokeRefreshTokens ? sql`session_generation = session_generation + 1` : undefined,
    sql`updated_at = now()`,
  ].filter((s): s is SQL => s !== undefined);
  const details = JSON.stringify(change.details ?? {});
  const [row] = await queryRows(
    deps.db,
    changeRow,
    sql`WITH target AS (
          SELECT u.id, ${previousValue[change.previous ?? 'none']} AS previous
          FROM users u JOIN roles r ON r.id = u.role_id
          WHERE u.id = ${userId} AND u.deleted_at IS NULL
        ), changed AS (
          UPDATE users u SET ${sql.join(assignments, sql`, `)}
          WHERE u.id = ${userId} AND u.deleted_at IS NULL
            AND (SELECT privilege_level FROM roles WHERE id = u.role_id) < ${actor.privilegeLevel}
            ${change.guard ? sql`AND ${change.guard}` : sql``}
          RETURNING u.id, extract(epoch FROM u.tokens_valid_after)::float8 AS tva
        )
        ${change.revokeRefreshTokens ? sql`, revoked AS (${revokeAllRefreshTokensOf(sql`SELECT id FROM changed`)})` : sql``}
        ${change.alsoCtes ? sql`, ${change.alsoCtes}` : sql``}
        , audit AS (
          ${auditInsert(
            {
              actorId: actor.id,
              action: change.action,
              targetId: sql`c.id`,
              ip: actor.ip,
              details: change.previous
                ? sql`${details}::jsonb || jsonb_build_object(${previousKey[change.previous]}::text, t.previous)`
                : sql`${details}::jsonb`,
            },
            sql`changed c JOIN target t ON t.id = c.id`,
          )}
        )
        SELECT ${change.requires?.value ?? sql`true`} AS required,
               c.id IS NOT NULL AS changed, c.tva
        FROM target t LEFT JOIN changed c ON c.id = t.id`,
  );
  if (!row) throw notFound('User');
  if (row.required === null) throw notFound(change.requires?.missing ?? 'Value');
  if (!row.changed) throw forbidden('insufficient_privilege');
  if (change.bumpTokens && row.tva !== null) await deps.revocations.announce(userRevocation(userId, row.tva));
}

/**
 * admin.users.setRole: the refresh tokens keep working, so the client refreshes into the
 * new claims. A role without sessions.manage (a therapist demoted) ends the user's work as
 * a therapist in the same statement: their upcoming booked sessions are cancelled
 * (cancelled_by = the admin), so no patient waits for a session nobody will hold
 * (docs/decisions/clinical-rules.md). Past sessions and their notes stay.
 */
export function setRole(
  deps: Pick<AppDeps, 'db' | 'revocations'>,
  actor: Actor,
  userId: string,
  role: string,
) {
  const newPrivilege = sql`(SELECT privilege_level FROM roles WHERE name = ${role})`;
  const keepsTherapistWork = sql`EXISTS (SELECT 1 FROM roles r JOIN role_permissions rp ON rp.role_id = r.id
    JOIN permissions pm ON pm.id = rp.permission_id WHERE r.name = ${role} AND pm.name = 'sessions.manage')`;
  return changeUser(deps, actor, userId, {
    action: 'admin.users.setRole',
    details: { role },
    previous: 'role',
    set: sql`role_id = (SELECT id FROM roles WHERE name = ${role})`,
    guard: sql`${newPrivilege} < ${actor.privilegeLevel}`,
    requires: { value: newPrivilege, missing: 'Role' },
    alsoCtes: sql`cancelled_sessions AS (
      UPDATE therapy_sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = ${actor.id}
      WHERE therapist_id IN (SELECT id FROM changed) AND status = 'booked' AND starts_at > now()
        AND NOT ${keepsTherapistWork}
    )`,
    bumpTokens: true,
    revokeRefreshTokens: false,
  });
}

/**
 * admin.users.setPlan: puts the user on an active subscription of the plan (no period
 * end: an admin grant). Like setRole, sessions continue with refreshed claims.
 */
export function setPlan(
  deps: Pick<AppDeps, 'db' | 'revocations'>,
  actor: Actor,
  userId: string,
  planCode: string,
) {
  const planId = sql`(SELECT id FROM plans WHERE code = ${planCode})`;
  return changeUser(deps, actor, userId, {
    action: 'admin.users.setPlan',
    details: { plan: planCode },
    previous: 'plan',
    guard: sql`${planId} IS NOT NULL`,
    requires: { value: planId, missing: 'Plan' },
    alsoCtes: sql`sub AS (
      INSERT INTO subscriptions (user_id, plan_id, status, current_period_end)
      SELECT c.id, ${planId}, 'active', NULL FROM changed c
      ON CONFLICT (user_id) DO UPDATE
        SET plan_id = excluded.plan_id, status = 'active', current_period_end = NULL,
            cancel_at_period_end = false, updated_at = now()
    )`,
    bumpTokens: true,
    revokeRefreshTokens: false,
  });
}

/** admin.users.suspend: ends every session; login answers account_suspended. */
export function suspend(
  deps: Pick<AppDeps, 'db' | 'revocations'>,
  actor: Actor,
  userId: string,
  reason: string,
) {
  return changeUser(deps, actor, userId, {
    action: 'admin.users.suspend',
    details: { reason },
    set: sql`status = 'suspended', suspended_reason = ${reason}`,
    bumpTokens: true,
    revokeRefreshTokens: true,
  });
}

/** admin.users.unsuspend: the user may log in again (old sessions stay ended). */
export function unsuspend(deps: Pick<AppDeps, 'db' | 'revocations'>, actor: Actor, userId: string) {
  return changeUser(deps, actor, userId, {
    action: 'admin.users.unsuspend',
    set: sql`status = 'active', suspended_reason = NULL, failed_logins = 0, locked_until = NULL`,
    bumpTokens: false,
    revokeRefreshTokens: false,
  });
}

/** admin.users.revokeSessions: every access and refresh token of the user dies. */
export function revokeSessions(deps: Pick<AppDeps, 'db' | 'revocations'>, actor: Actor, userId: string) {
  return changeUser(deps, actor, userId, {
    action: 'admin.users.revokeSessions',
    bumpTokens: true,
    revokeRefreshTokens: true,
  });
}

/** `%`, `_` and `\` are LIKE wildcards/escape: a search for "a_b" means the text "a_b". */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const userRow = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  privilege_level: z.number(),
  status: z.enum(USER_STATUSES),
  plan: z.string(),
  subscription_status: z.string(),
  current_period_end: date.nullable(),
  created_at: date,
});
const userPageRow = userRow.extend({ key: z.string() });
const userDetailRow = userRow.extend({
  suspended_reason: z.string().nullable(),
  last_login_at: date.nullable(),
  updated_at: date,
});

// The plan a user is on: an active subscription's, else free (as mv_users_with_subscription says).
const PLAN = sql`CASE WHEN s.status = 'active' THEN pl.code ELSE 'free' END`;
const COLUMNS = sql`u.id, u.email, u.name, r.name AS role, r.privilege_level::int AS privilege_level, u.status,
  ${PLAN} AS plan, coalesce(s.status, 'none') AS subscription_status, s.current_period_end, u.created_at`;
const FROM = sql`FROM users u JOIN roles r ON r.id = u.role_id
  LEFT JOIN subscriptions s ON s.user_id = u.id LEFT JOIN plans pl ON pl.id = s.plan_id`;

const SORT_KEYS = {
  createdAt: { key: sql`u.created_at`, text: exactTimestamp(sql`u.created_at`), cast: sql`timestamptz` },
  email: { key: sql`lower(u.email)`, text: sql`lower(u.email)`, cast: sql`text` },
  name: { key: sql`lower(u.name)`, text: sql`lower(u.name)`, cast: sql`text` },
} as const;

function toUser(r: z.output<typeof userRow>) {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    role: r.role,
    privilegeLevel: r.privilege_level,
    status: r.status,
    plan: r.plan,
    subscriptionStatus: r.subscription_status,
    currentPeriodEnd: r.current_period_end,
    createdAt: r.created_at,
  };
}

/**
 * A search fragment the trigram indexes can narrow: pg_trgm takes trigrams from runs of
 * letters and digits, so "user 12" or "@gmail" qualify and "a.b" or "12" do not (for those
 * a GIN scan would read the whole index, so the page walks the sort order instead).
 */
const TRIGRAM_SEARCH = /[\p{L}\p{N}]{3}/u;
/**
 * Matches of a search collected before the page sorts them itself. Up to this many, sorting
 * the matches beats walking the sort order (which, for a fragment whose matches sit late
 * in that order — "user 9" sorted by name — passes most of the table before the first
 * one); a broader fragment has matches all along the order, so the walk finds a page fast.
 */
export const SEARCH_SORT_LIMIT = 20_000;

/**
 * What the trigram indexes are asked for, given the (lower-cased) search: the part up to
 * and including its first "@" when that part alone has a trigram, else the whole search.
 * The domain after the "@" is shared by many users (everyone's "@gmail.com"; every bench
 * user's "@bulk…"): its trigrams sit in a large part of the index, and a GIN scan decodes
 * their posting lists at every candidate of the rarest trigram — ~10 ms per index for
 * "123456@bulk" at 1,000,000 users, against 0.5 ms for "123456@". The page then keeps the
 * candidates that contain the whole search (strpos: no index answers it, so the planner
 * does not hand it to GIN as well).
 */
export function indexedFragment(search: string): string {
  const at = search.indexOf('@');
  const local = at < 0 ? search : search.slice(0, at + 1);
  return at >= 0 && TRIGRAM_SEARCH.test(local) ? local : search;
}

/** The plan filter as a semi-join on the user's subscription (the plan in effect, as PLAN says). */
function planFilter(plan: string): SQL {
  const active = sql`SELECT 1 FROM subscriptions s2 WHERE s2.user_id = u.id AND s2.status = 'active'`;
  return plan === 'free'
    ? sql`NOT EXISTS (${active} AND s2.plan_id <> (SELECT id FROM plans WHERE code = 'free'))`
    : sql`EXISTS (${active} AND s2.plan_id = (SELECT id FROM plans WHERE code = ${plan}))`;
}

/**
 * One page: search any part of email or name, filters, a sort, keyset on (sort key, id).
 * ONE statement. Without a search (or with one the trigram indexes cannot narrow) it walks
 * the sort order's index — for a role, the role's own range of it (users_role_*_idx, which
 * carry the columns the filters read, so the walk reads no heap) — and stops at the page.
 * With a search it first collects up to SEARCH_SORT_LIMIT users that match it and the
 * filters on the users row through the trigram indexes and sorts them; a plan filter then
 * checks those in page order until the page is full (a probe per user on the page, not one
 * per match). Only when there are more matches than that does the walk run instead (a gated
 * branch of the same statement). Either way the page's users are then joined to their role
 * and subscription: 21 lookups, not one per candidate.
 */
export async function listUsers(
  db: Db,
  input: AdminUsersListInput,
  searchSortLimit: number = SEARCH_SORT_LIMIT,
) {
  const sort = SORT_KEYS[input.sort];
  const after = decodeCursor(input.cursor, [input.sort === 'createdAt' ? 'timestamp' : 'text', 'uuid']);
  const where: SQL[] = [sql`u.deleted_at IS NULL`];
  const search = input.search?.toLowerCase();
  const indexed = search === undefined ? undefined : indexedFragment(search);
  if (search !== undefined && indexed !== undefined) {
    const pattern = `%${escapeLike(indexed)}%`;
    where.push(sql`(lower(u.email) LIKE ${pattern} OR lower(u.name) LIKE ${pattern})`);
    if (indexed !== search)
      where.push(sql`(strpos(lower(u.email), ${search}) > 0 OR strpos(lower(u.name), ${search}) > 0)`);
  }
  if (input.role) where.push(sql`u.role_id = (SELECT id FROM roles WHERE name = ${input.role})`);
  if (input.status) where.push(sql`u.status = ${input.status}`);
  const plan = input.plan ? planFilter(input.plan) : undefined;
  const dir = input.order === 'desc' ? sql`DESC` : sql`ASC`;
  if (after)
    where.push(
      sql`(${sort.key}, u.id) ${input.order === 'desc' ? sql`<` : sql`>`} (${after[0]}::${sort.cast}, ${after[1]}::uuid)`,
    );
  const limit = input.limit + 1;
  const onUsers = sql.join(where, sql` AND `);
  const walk = (gate: SQL) =>
    sql`SELECT u.id, ${sort.key} AS k FROM users u WHERE ${onUsers} ${plan ? sql`AND ${plan}` : sql``} ${gate}
        ORDER BY ${sort.key} ${dir}, u.id ${dir} LIMIT ${limit}`;
  const sortsItself = sql`SELECT id, k FROM found WHERE (SELECT count(*) FROM found) <= ${searchSortLimit}
        ORDER BY k ${dir}, id ${dir}`;
  const page =
    indexed !== undefined && TRIGRAM_SEARCH.test(indexed)
      ? sql`WITH found AS MATERIALIZED (
              SELECT u.id, ${sort.key} AS k FROM users u WHERE ${onUsers} LIMIT ${searchSortLimit + 1}
            )
            (${
              // The plan filter after the sort (the subquery's ORDER BY keeps it from being
              // pulled up): the semi-join probes the sorted matches, in order, until the page
              // is full. The outer ORDER BY costs nothing then (the order is the subquery's),
              // and keeps the page right should the planner join another way.
              plan
                ? sql`SELECT id, k FROM (${sortsItself}) u WHERE ${plan} ORDER BY k ${dir}, id ${dir} LIMIT ${limit}`
                : sql`${sortsItself} LIMIT ${limit}`
            })
            UNION ALL
            (${walk(sql`AND (SELECT count(*) FROM found) > ${searchSortLimit}`)})`
      : walk(sql``);
  const rows = await queryRows(
    db,
    userPageRow,
    sql`SELECT ${COLUMNS}, ${sort.text} AS key
        FROM (${page}) p JOIN users u ON u.id = p.id JOIN roles r ON r.id = u.role_id
        LEFT JOIN subscriptions s ON s.user_id = u.id LEFT JOIN plans pl ON pl.id = s.plan_id
        ORDER BY p.k ${dir}, p.id ${dir}`,
  );
  return toPage(
    rows,
    input.limit,
    (r) => [r.key, r.id],
    ({ key: _key, ...r }) => toUser(r),
  );
}

/**
 * admin.users.get, an audited read: one user with what the console's detail page shows, and
 * the access entry about them, in ONE statement. NOT_FOUND (and no entry) for a deleted or
 * unknown id.
 */
export async function getUser(db: Db, reader: Reader, userId: string) {
  const [row] = await queryRows(
    db,
    userDetailRow,
    sql`WITH audit AS (
          ${accessAudit('admin.users.get', reader, sql`SELECT id AS subject FROM users WHERE id = ${userId} AND deleted_at IS NULL`)}
        )
        SELECT ${COLUMNS}, u.suspended_reason, u.last_login_at, u.updated_at ${FROM}
        WHERE u.id = ${userId} AND u.deleted_at IS NULL`,
  );
  if (!row) throw notFound('User');
  return {
    ...toUser(row),
    suspendedReason: row.suspended_reason,
    lastLoginAt: row.last_login_at,
    updatedAt: row.updated_at,
  };
}
