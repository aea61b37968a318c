// insights.*: the Premium dashboard over the caller's own data; one statement each, on the
// read replica when there is one (a dashboard may lag the primary by the replica's delay).
import { insightsContract as c } from '../../shared/contracts/insights.ts';
import { assessmentTrajectory, moodStreaks, moodTrend, tagsVsMood } from '../domain/insights.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const insightsRouter = router({
  moodTrend: protectedProcedure
    .meta(c.moodTrend.meta)
    .input(c.moodTrend.input)
    .output(c.moodTrend.output)
    .query(({ ctx, input }) => moodTrend(ctx.deps.readDb, ctx.auth.sub, input)),
  streaks: protectedProcedure
    .meta(c.streaks.meta)
    .output(c.streaks.output)
    .query(({ ctx }) => moodStreaks(ctx.deps.readDb, ctx.auth.sub)),
  tags: protectedProcedure
    .meta(c.tags.meta)
    .input(c.tags.input)
    .output(c.tags.output)
    .query(({ ctx, input }) => tagsVsMood(ctx.deps.readDb, ctx.auth.sub, input)),
  assessments: protectedProcedure
    .meta(c.assessments.meta)
    .input(c.assessments.input)
    .output(c.assessments.output)
    .query(({ ctx, input }) => assessmentTrajectory(ctx.deps.readDb, ctx.auth.sub, input)),
});
