// admin.users.* wired to their use cases (server/domain/admin-users.ts: the list, and the
// account changes whose privilege rule is enforced inside each change's SQL).
import {
  adminUsersListInput,
  setPlanInput,
  setRoleInput,
  suspendInput,
  userIdInput,
} from '../../../shared/inputs/admin-users.ts';
import * as admin from '../../domain/admin-users.ts';
import { type Context, readerOf } from '../../trpc/context.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

const actorOf = (ctx: Context & { auth: NonNullable<Context['auth']> }): admin.Actor => ({
  id: ctx.auth.sub,
  privilegeLevel: ctx.auth.privilegeLevel,
  ip: ctx.req.ip,
});
const ok = { ok: true as const };

export const adminUsersRouter = router({
  list: protectedProcedure
    .meta({ auth: 'user', permission: 'users.read' })
    .input(adminUsersListInput)
    .query(({ ctx, input }) => admin.listUsers(ctx.deps.readDb, input)),

  // The primary: the detail page shows a change the moment it is made.
  get: protectedProcedure
    .meta({ auth: 'user', permission: 'users.read' })
    .input(userIdInput)
    .query(({ ctx, input }) => admin.getUser(ctx.deps.db, readerOf(ctx), input.userId)),

  setRole: protectedProcedure
    .meta({ auth: 'user', permission: 'roles.assign', stepUp: true })
    .input(setRoleInput)
    .mutation(async ({ ctx, input }) => {
      await admin.setRole(ctx.deps, actorOf(ctx), input.userId, input.role);
      return ok;
    }),

  setPlan: protectedProcedure
    .meta({ auth: 'user', permission: 'subscriptions.manage' })
    .input(setPlanInput)
    .mutation(async ({ ctx, input }) => {
      await admin.setPlan(ctx.deps, actorOf(ctx), input.userId, input.planCode);
      return ok;
    }),

  suspend: protectedProcedure
    .meta({ auth: 'user', permission: 'users.manage' })
    .input(suspendInput)
    .mutation(async ({ ctx, input }) => {
      await admin.suspend(ctx.deps, actorOf(ctx), input.userId, input.reason);
      return ok;
    }),

  unsuspend: protectedProcedure
    .meta({ auth: 'user', permission: 'users.manage' })
    .input(userIdInput)
    .mutation(async ({ ctx, input }) => {
      await admin.unsuspend(ctx.deps, actorOf(ctx), input.userId);
      return ok;
    }),

  revokeSessions: protectedProcedure
    .meta({ auth: 'user', permission: 'users.manage' })
    .input(userIdInput)
    .mutation(async ({ ctx, input }) => {
      await admin.revokeSessions(ctx.deps, actorOf(ctx), input.userId);
      return ok;
    }),
});
