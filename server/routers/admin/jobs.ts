// admin.jobs.* wired to their use cases (server/domain/admin-jobs.ts).
import { adminJobsContract as c } from '../../../shared/contracts/admin/jobs.ts';
import { jobQueues, listJobs, redriveJobs } from '../../domain/admin-jobs.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

export const adminJobsRouter = router({
  /** Per queue: waiting, active, failed, age of the oldest waiting job, dead letters. */
  queues: protectedProcedure
    .meta(c.queues.meta)
    .output(c.queues.output)
    .query(({ ctx }) => jobQueues(ctx.deps)),

  /** The newest jobs of a queue (or its dead-letter queue), optionally in one state. */
  list: protectedProcedure
    .meta(c.list.meta)
    .input(c.list.input)
    .output(c.list.output)
    .query(({ ctx, input }) => listJobs(ctx.deps, input)),

  /** Sends dead-lettered jobs again. */
  redrive: protectedProcedure
    .meta(c.redrive.meta)
    .input(c.redrive.input)
    .output(c.redrive.output)
    .mutation(({ ctx, input }) => redriveJobs(ctx.deps, input, { id: ctx.auth.sub, ip: ctx.req.ip })),
});
