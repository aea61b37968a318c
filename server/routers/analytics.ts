// analytics.* wired to their use cases (server/domain/analytics.ts).
import { analyticsActivityInput } from '../../shared/inputs/analytics.ts';
import { analyticsActivity, analyticsOverview } from '../domain/analytics.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const analyticsRouter = router({
  overview: protectedProcedure
    .meta({ auth: 'user', permission: 'analytics.read' })
    .query(({ ctx }) => analyticsOverview(ctx.deps.readDb)),

  /** Per day: assessments by severity, bookings, crisis alerts (the console's charts). */
  activity: protectedProcedure
    .meta({ auth: 'user', permission: 'analytics.read' })
    .input(analyticsActivityInput)
    .query(({ ctx, input }) => analyticsActivity(ctx.deps.readDb, input.days)),
});
