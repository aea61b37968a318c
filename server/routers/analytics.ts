// analytics.overview wired to its use case (server/domain/analytics.ts).
import { analyticsOverview } from '../domain/analytics.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const analyticsRouter = router({
  overview: protectedProcedure
    .meta({ auth: 'user', permission: 'analytics.read' })
    .query(({ ctx }) => analyticsOverview(ctx.deps.readDb)),
});
