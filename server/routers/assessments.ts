// assessments.* wired to their use cases (server/domain/assessments.ts).
import { assessmentHistoryInput, submitAssessmentInput } from '../../shared/inputs/assessments.ts';
import { assessmentHistory, submitAssessment } from '../domain/assessments.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const assessmentsRouter = router({
  submit: protectedProcedure
    .meta({ auth: 'user', permission: 'assessments.submit', feature: 'assessments' })
    .input(submitAssessmentInput)
    .mutation(({ ctx, input }) => submitAssessment(ctx.deps.db, ctx.auth.sub, input)),

  history: protectedProcedure
    .meta({ auth: 'user', permission: 'assessments.read', feature: 'assessments' })
    .input(assessmentHistoryInput)
    .query(({ ctx, input }) => assessmentHistory(ctx.deps.db, ctx.auth.sub, input)),
});
