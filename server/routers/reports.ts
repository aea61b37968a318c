// reports.*: the caller's own series for a date range, JSON or CSV, in chunks (an async
// generator): download from GET /reports/<kind> (server/http/downloads.ts) or read the
// chunks with httpBatchStreamLink.
import { reportsContract as c } from '../../shared/contracts/reports.ts';
import { streamReport } from '../domain/reports.ts';
import { edgeStream } from '../trpc/errors.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const reportsRouter = router({
  mood: protectedProcedure
    .meta(c.mood.meta)
    .input(c.mood.input)
    .output(c.mood.output)
    .query(({ ctx, input }) => edgeStream(streamReport(ctx.deps, ctx.auth.sub, ctx.req.ip, 'mood', input))),
  assessments: protectedProcedure
    .meta(c.assessments.meta)
    .input(c.assessments.input)
    .output(c.assessments.output)
    .query(({ ctx, input }) =>
      edgeStream(streamReport(ctx.deps, ctx.auth.sub, ctx.req.ip, 'assessments', input)),
    ),
  sessions: protectedProcedure
    .meta(c.sessions.meta)
    .input(c.sessions.input)
    .output(c.sessions.output)
    .query(({ ctx, input }) =>
      edgeStream(streamReport(ctx.deps, ctx.auth.sub, ctx.req.ip, 'sessions', input)),
    ),
});
