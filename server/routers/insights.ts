// insights.*: the Premium dashboard over the caller's own data; one statement each, on the
// read replica when there is one (a dashboard may lag the primary by the replica's delay).
import { trajectoryInput, windowInput } from '../../shared/inputs/insights.ts';
import { assessmentTrajectory, moodStreaks, moodTrend, tagsVsMood } from '../domain/insights.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

const insight = protectedProcedure.meta({
  auth: 'user',
  permission: 'insights.read',
  feature: 'premium_dashboard',
});

export const insightsRouter = router({
  moodTrend: insight
    .input(windowInput)
    .query(({ ctx, input }) => moodTrend(ctx.deps.readDb, ctx.auth.sub, input)),
  streaks: insight.query(({ ctx }) => moodStreaks(ctx.deps.readDb, ctx.auth.sub)),
  tags: insight
    .input(windowInput)
    .query(({ ctx, input }) => tagsVsMood(ctx.deps.readDb, ctx.auth.sub, input)),
  assessments: insight
    .input(trajectoryInput)
    .query(({ ctx, input }) => assessmentTrajectory(ctx.deps.readDb, ctx.auth.sub, input)),
});
