// analytics.* wired to their use cases (server/domain/analytics.ts).
import { analyticsContract as c } from '../../shared/contracts/analytics.ts';
import { analyticsActivity, analyticsOverview } from '../domain/analytics.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const analyticsRouter = router({
  overview: protectedProcedure
    .meta(c.overview.meta)
    .output(c.overview.output)
    .query(({ ctx }) => analyticsOverview(ctx.deps.readDb)),

  /** Per day: assessments by severity, bookings, crisis alerts (the console's charts). */
  activity: protectedProcedure
    .meta(c.activity.meta)
    .input(c.activity.input)
    .output(c.activity.output)
    .query(({ ctx, input }) => analyticsActivity(ctx.deps.readDb, input.days)),
});
