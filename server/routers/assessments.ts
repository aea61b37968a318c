// assessments.* wired to their use cases (server/domain/assessments.ts).
import { assessmentHistoryInput, submitAssessmentInput } from '../../shared/inputs/assessments.ts';
import { assessmentPageOutput, assessmentResultOutput } from '../../shared/outputs.ts';
import { assessmentHistory, submitAssessment } from '../domain/assessments.ts';
import { crisisChanged } from '../live/crisis-feed.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const assessmentsRouter = router({
  submit: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'assessments.submit',
      feature: 'assessments',
      openapi: {
        summary: 'Submit a PHQ-9 or GAD-7',
      },
    })
    .input(submitAssessmentInput)
    .output(assessmentResultOutput)
    .mutation(async ({ ctx, input }) => {
      const result = await submitAssessment(ctx.deps.db, ctx.auth.sub, input);
      // A crisis-level screening raised (or attached to) an alert: the live queue and the
      // on-call notification learn it now, not at their next poll.
      if (result.crisis) crisisChanged(ctx.deps);
      return result;
    }),

  history: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'assessments.read',
      feature: 'assessments',
      openapi: {
        summary: "The caller's assessments, newest first",
      },
    })
    .input(assessmentHistoryInput)
    .output(assessmentPageOutput)
    .query(({ ctx, input }) => assessmentHistory(ctx.deps.db, ctx.auth.sub, input)),
});
