// assessments.* wired to their use cases (server/domain/assessments.ts).
import { assessmentHistoryInput, submitAssessmentInput } from '../../shared/inputs/assessments.ts';
import { assessmentPageOutput, assessmentResultOutput } from '../../shared/outputs.ts';
import { assessmentHistory, submitAssessment } from '../domain/assessments.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const assessmentsRouter = router({
  submit: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'assessments.submit',
      feature: 'assessments',
      openapi: {
        method: 'POST',
        path: '/assessments/submit',
        tags: ['assessments'],
        summary: 'Submit a PHQ-9 or GAD-7',
      },
    })
    .input(submitAssessmentInput)
    .output(assessmentResultOutput)
    .mutation(({ ctx, input }) => submitAssessment(ctx.deps.db, ctx.auth.sub, input)),

  history: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'assessments.read',
      feature: 'assessments',
      openapi: {
        method: 'GET',
        path: '/assessments/history',
        tags: ['assessments'],
        summary: "The caller's assessments, newest first",
      },
    })
    .input(assessmentHistoryInput)
    .output(assessmentPageOutput)
    .query(({ ctx, input }) => assessmentHistory(ctx.deps.db, ctx.auth.sub, input)),
});
