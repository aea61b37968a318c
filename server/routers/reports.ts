// reports.*: the caller's own series for a date range, JSON or CSV, in chunks (an async
// generator): download from GET /reports/<kind> (server/http/downloads.ts) or read the
// chunks with httpBatchStreamLink.
import { assessmentReportInput, reportInput } from '../../shared/inputs/reports.ts';
import { streamReport } from '../domain/reports.ts';
import { edgeStream } from '../trpc/errors.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

const reportProcedure = protectedProcedure.meta({
  auth: 'user',
  permission: 'reports.read',
  feature: 'advanced_reporting',
});

export const reportsRouter = router({
  mood: reportProcedure
    .input(reportInput)
    .query(({ ctx, input }) => edgeStream(streamReport(ctx.deps, ctx.auth.sub, ctx.req.ip, 'mood', input))),
  assessments: reportProcedure
    .input(assessmentReportInput)
    .query(({ ctx, input }) =>
      edgeStream(streamReport(ctx.deps, ctx.auth.sub, ctx.req.ip, 'assessments', input)),
    ),
  sessions: reportProcedure
    .input(reportInput)
    .query(({ ctx, input }) =>
      edgeStream(streamReport(ctx.deps, ctx.auth.sub, ctx.req.ip, 'sessions', input)),
    ),
});
