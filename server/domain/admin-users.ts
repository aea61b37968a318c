// What admin.users.* mutations do to an account: role, plan, suspension and sessions.
// Each is ONE statement that checks the privilege rule, changes the user, bumps
// tokens_valid_after (so the user's live access tokens die on every instance at once),
// revokes refresh tokens where the action ends sessions, and writes the audit entry.
// The privilege rule sits in the UPDATE's WHERE, evaluated against the row it locks, so
// a concurrent role change cannot slip between the check and the write:
//   an actor never changes a user whose current privilege is >= its own, and never
//   grants a role whose privilege is >= its own.
// Also the dashboard's user list (admin.users.list), from the materialized view.

import { and, asc, eq, gt, type SQL, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client.ts';
import { mvUsersWithSubscription as mv } from '../../db/schema/index.ts';
import type { AdminUsersListInput } from '../../shared/inputs/admin-users.ts';
import { revokeAllRefreshTokensOf } from '../auth/refresh.ts';
import { bumpTokensValidAfter, userRevocation } from '../auth/revocation.ts';
import { decodeCursor, toPage } from '../keyset.ts';
import type { AppDeps } from '../services.ts';
import { forbidden, notFound } from './errors.ts';

export interface Actor {
  id: string;
  privilegeLevel: number;
  ip: string;
}

interface UserChange {
  /** Audit action, e.g. admin.users.set_role. */
  action: string;
  details?: Record<string, unknown>;
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
  /** End the user's sessions: revoke every refresh token too. */
  revokeRefreshTokens: boolean;
}

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
    sql`updated_at = now()`,
  ].filter((s): s is SQL => s !== undefined);
  const details = JSON.stringify(change.details ?? {});
  const [row] = await queryRows<{ required: unknown; changed: boolean; tva: number | null }>(
    deps.db,
    sql`WITH target AS (
          SELECT u.id, r.name AS role FROM users u JOIN roles r ON r.id = u.role_id
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
          INSERT INTO audit_log (actor_id, action, target_id, ip, details)
          SELECT ${actor.id}, ${change.action}, c.id, ${actor.ip},
                 ${details}::jsonb || jsonb_build_object('previousRole', t.role)
          FROM changed c JOIN target t ON t.id = c.id
        )
        SELECT ${change.requires?.value ?? sql`true`} AS required,
               c.id IS NOT NULL AS changed, c.tva
        FROM target t LEFT JOIN changed c ON c.id = t.id`,
  );
  if (!row) throw notFound('User');
  if (row.required === null) throw notFound(change.requires?.missing ?? 'Value');
  if (!row.changed) throw forbidden('insufficient_privilege');
  if (change.bumpTokens && row.tva !== null)
    await deps.revocations.announce(userRevocation(userId, Number(row.tva)));
}

/** admin.users.setRole: the refresh tokens keep working, so the client refreshes into the new claims. */
export function setRole(
  deps: Pick<AppDeps, 'db' | 'revocations'>,
  actor: Actor,
  userId: string,
  role: string,
) {
  const newPrivilege = sql`(SELECT privilege_level FROM roles WHERE name = ${role})`;
  return changeUser(deps, actor, userId, {
    action: 'admin.users.set_role',
    details: { role },
    set: sql`role_id = (SELECT id FROM roles WHERE name = ${role})`,
    guard: sql`${newPrivilege} < ${actor.privilegeLevel}`,
    requires: { value: newPrivilege, missing: 'Role' },
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
    action: 'admin.users.set_plan',
    details: { plan: planCode },
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
    action: 'admin.users.revoke_sessions',
    bumpTokens: true,
    revokeRefreshTokens: true,
  });
}

/** `%`, `_` and `\` are LIKE wildcards/escape: a search for "a_b" means the text "a_b". */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * One query on mv_users_with_subscription (refreshed every few minutes; see
 * docs/decisions): prefix search on lower(email) / lower(name) through their
 * text_pattern_ops indexes, exact filters, keyset pagination on user_id.
 */
export async function listUsers(db: Db, input: AdminUsersListInput) {
  const after = decodeCursor(input.cursor, ['uuid']);
  const conditions: Array<SQL | undefined> = [
    input.role ? eq(mv.role, input.role) : undefined,
    input.plan ? eq(mv.plan, input.plan) : undefined,
    input.status ? eq(mv.status, input.status) : undefined,
    after ? gt(mv.userId, after[0]) : undefined,
  ];
  if (input.search) {
    const prefix = `${escapeLike(input.search.toLowerCase())}%`;
    conditions.push(sql`(lower(${mv.email}) LIKE ${prefix} OR lower(${mv.name}) LIKE ${prefix})`);
  }
  const rows = await db
    .select()
    .from(mv)
    .where(and(...conditions))
    .orderBy(asc(mv.userId))
    .limit(input.limit + 1);
  return toPage(
    rows,
    input.limit,
    (r) => [r.userId],
    (r) => ({
      id: r.userId,
      email: r.email,
      name: r.name,
      role: r.role,
      privilegeLevel: r.privilegeLevel,
      status: r.status,
      plan: r.plan,
      subscriptionStatus: r.subscriptionStatus,
      currentPeriodEnd: r.currentPeriodEnd,
      createdAt: r.createdAt,
    }),
  );
}
