// admin.users.* wired to their use cases (server/domain/admin-users.ts: the list, and the
// account changes whose privilege rule is enforced inside each change's SQL).
import { adminUsersContract as c } from '../../../shared/contracts/admin/users.ts';
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
    .meta(c.list.meta)
    .input(c.list.input)
    .output(c.list.output)
    .query(({ ctx, input }) => admin.listUsers(ctx.deps.readDb, input)),

  // The primary: the detail page shows a change the moment it is made.
  get: protectedProcedure
    .meta(c.get.meta)
    .input(c.get.input)
    .output(c.get.output)
    .query(({ ctx, input }) => admin.getUser(ctx.deps.db, readerOf(ctx), input.userId)),

  setRole: protectedProcedure
    .meta(c.setRole.meta)
    .input(c.setRole.input)
    .output(c.setRole.output)
    .mutation(async ({ ctx, input }) => {
      await admin.setRole(ctx.deps, actorOf(ctx), input.userId, input.role);
      return ok;
    }),

  setPlan: protectedProcedure
    .meta(c.setPlan.meta)
    .input(c.setPlan.input)
    .output(c.setPlan.output)
    .mutation(async ({ ctx, input }) => {
      await admin.setPlan(ctx.deps, actorOf(ctx), input.userId, input.planCode);
      return ok;
    }),

  suspend: protectedProcedure
    .meta(c.suspend.meta)
    .input(c.suspend.input)
    .output(c.suspend.output)
    .mutation(async ({ ctx, input }) => {
      await admin.suspend(ctx.deps, actorOf(ctx), input.userId, input.reason);
      return ok;
    }),

  unsuspend: protectedProcedure
    .meta(c.unsuspend.meta)
    .input(c.unsuspend.input)
    .output(c.unsuspend.output)
    .mutation(async ({ ctx, input }) => {
      await admin.unsuspend(ctx.deps, actorOf(ctx), input.userId);
      return ok;
    }),

  revokeSessions: protectedProcedure
    .meta(c.revokeSessions.meta)
    .input(c.revokeSessions.input)
    .output(c.revokeSessions.output)
    .mutation(async ({ ctx, input }) => {
      await admin.revokeSessions(ctx.deps, actorOf(ctx), input.userId);
      return ok;
    }),
});
