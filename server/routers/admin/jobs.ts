// admin.jobs.* wired to their use cases (server/domain/admin-jobs.ts).
import { jobsListInput, jobsRedriveInput } from '../../../shared/inputs/admin.ts';
import { jobQueuesOutput, jobsOutput, jobsRedriveOutput } from '../../../shared/outputs.ts';
import { jobQueues, listJobs, redriveJobs } from '../../domain/admin-jobs.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

export const adminJobsRouter = router({
  /** Per queue: waiting, active, failed, age of the oldest waiting job, dead letters. */
  queues: protectedProcedure
    .meta({ auth: 'user', permission: 'jobs.manage' })
    .output(jobQueuesOutput)
    .query(({ ctx }) => jobQueues(ctx.deps)),

  /** The newest jobs of a queue (or its dead-letter queue), optionally in one state. */
  list: protectedProcedure
    .meta({ auth: 'user', permission: 'jobs.manage' })
    .input(jobsListInput)
    .output(jobsOutput)
    .query(({ ctx, input }) => listJobs(ctx.deps, input)),

  /** Sends dead-lettered jobs again. */
  redrive: protectedProcedure
    .meta({ auth: 'user', permission: 'jobs.manage' })
    .input(jobsRedriveInput)
    .output(jobsRedriveOutput)
    .mutation(({ ctx, input }) => redriveJobs(ctx.deps, input, { id: ctx.auth.sub, ip: ctx.req.ip })),
});
