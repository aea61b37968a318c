// assessments.* wired to their use cases (server/domain/assessments.ts).
import { assessmentsContract as c } from '../../shared/contracts/assessments.ts';
import { assessmentHistory, submitAssessment } from '../domain/assessments.ts';
import { crisisChanged } from '../live/crisis-feed.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const assessmentsRouter = router({
  submit: protectedProcedure
    .meta(c.submit.meta)
    .input(c.submit.input)
    .output(c.submit.output)
    .mutation(async ({ ctx, input }) => {
      const result = await submitAssessment(ctx.deps.db, ctx.auth.sub, input);
      // A crisis-level screening raised (or attached to) an alert: the live queue and the
      // on-call notification learn it now, not at their next poll.
      if (result.crisis) crisisChanged(ctx.deps);
      return result;
    }),

  history: protectedProcedure
    .meta(c.history.meta)
    .input(c.history.input)
    .output(c.history.output)
    .query(({ ctx, input }) => assessmentHistory(ctx.deps.db, ctx.auth.sub, input)),
});
