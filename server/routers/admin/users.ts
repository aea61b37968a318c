// admin.users.* procedures (API.md): the dashboard's user list and the account changes
// (role, plan, suspension, sessions). Access policy is in .meta(); the privilege rule
// against the target user is enforced inside each change's SQL (server/auth/admin-users.ts).
import { and, asc, eq, gt, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client.ts';
import { mvUsersWithSubscription as mv } from '../../../db/schema/index.ts';
import {
  adminUsersListInput,
  setPlanInput,
  setRoleInput,
  suspendInput,
  type TAdminUsersListInput,
  userIdInput,
} from '../../../shared/inputs/admin-users.ts';
import * as admin from '../../auth/admin-users.ts';
import { decodeCursor, toPage } from '../../keyset.ts';
import type { Context } from '../../trpc/context.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

/** `%`, `_` and `\` are LIKE wildcards/escape: a search for "a_b" means the text "a_b". */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * One query on mv_users_with_subscription (refreshed every few minutes; see
 * docs/decisions): prefix search on lower(email) / lower(name) through their
 * text_pattern_ops indexes, exact filters, keyset pagination on user_id.
 */
export async function listUsers(db: Db, input: TAdminUsersListInput) {
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

const actorOf = (ctx: Context & { auth: NonNullable<Context['auth']> }): admin.Actor => ({
  id: ctx.auth.sub,
  privilegeLevel: ctx.auth.privilegeLevel,
  ip: ctx.req.ip,
});
const ok = { ok: true as const };

export const adminUsersRouter = router({
  list: protectedProcedure
    .meta({ permission: 'users.read' })
    .input(adminUsersListInput)
    .query(({ ctx, input }) => listUsers(ctx.deps.readDb, input)),

  setRole: protectedProcedure
    .meta({ permission: 'roles.assign' })
    .input(setRoleInput)
    .mutation(async ({ ctx, input }) => {
      await admin.setRole(ctx.deps, actorOf(ctx), input.userId, input.role);
      return ok;
    }),

  setPlan: protectedProcedure
    .meta({ permission: 'subscriptions.manage' })
    .input(setPlanInput)
    .mutation(async ({ ctx, input }) => {
      await admin.setPlan(ctx.deps, actorOf(ctx), input.userId, input.planCode);
      return ok;
    }),

  suspend: protectedProcedure
    .meta({ permission: 'users.manage' })
    .input(suspendInput)
    .mutation(async ({ ctx, input }) => {
      await admin.suspend(ctx.deps, actorOf(ctx), input.userId, input.reason);
      return ok;
    }),

  unsuspend: protectedProcedure
    .meta({ permission: 'users.manage' })
    .input(userIdInput)
    .mutation(async ({ ctx, input }) => {
      await admin.unsuspend(ctx.deps, actorOf(ctx), input.userId);
      return ok;
    }),

  revokeSessions: protectedProcedure
    .meta({ permission: 'users.manage' })
    .input(userIdInput)
    .mutation(async ({ ctx, input }) => {
      await admin.revokeSessions(ctx.deps, actorOf(ctx), input.userId);
      return ok;
    }),
});
