// admin.views.* wired to their use cases (server/domain/admin-views.ts).
import { adminViewsContract as c } from '../../../shared/contracts/admin/views.ts';
import { refreshViews, viewStatus } from '../../domain/admin-views.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

export const adminViewsRouter = router({
  refresh: protectedProcedure
    .meta(c.refresh.meta)
    .output(c.refresh.output)
    .mutation(({ ctx }) => refreshViews(ctx.deps.database, ctx.auth.sub, ctx.req.ip)),

  // The primary: the status is written there by each refresh, and must agree with it.
  status: protectedProcedure
    .meta(c.status.meta)
    .output(c.status.output)
    .query(({ ctx }) => viewStatus(ctx.deps.db)),
});
