// admin.jobs.* (server/routers/admin/jobs.ts): the job queues (pg-boss), their jobs and dead
// letters.
import { z } from 'zod';
import type { Contracts } from '../../contract.ts';
import { jobsListInput, jobsRedriveInput } from '../../inputs/admin.ts';
import { date } from '../common.ts';

export const jobQueuesOutput = z.array(
  z.object({
    name: z.string(),
    queued: z.number(),
    active: z.number(),
    failed: z.number(),
    oldestSeconds: z.number(),
    deadLetters: z.number(),
  }),
);
export const jobsOutput = z.array(
  z.object({
    id: z.string(),
    queue: z.string(),
    state: z.string(),
    retryCount: z.number(),
    retryLimit: z.number(),
    createdOn: date,
    startedOn: date.nullable(),
    completedOn: date.nullable(),
    error: z.string().nullable(),
  }),
);
export const jobsRedriveOutput = z.object({ moved: z.number() });

export const adminJobsContract = {
  queues: {
    meta: {
      auth: 'user',
      permission: 'jobs.manage',
      openapi: { summary: 'Per queue: waiting, active, failed, oldest waiting, dead letters' },
    },
    output: jobQueuesOutput,
  },
  list: {
    meta: { auth: 'user', permission: 'jobs.manage', openapi: { summary: 'The newest jobs of a queue' } },
    input: jobsListInput,
    output: jobsOutput,
  },
  redrive: {
    meta: { auth: 'user', permission: 'jobs.manage', openapi: { summary: 'Send dead-lettered jobs again' } },
    input: jobsRedriveInput,
    output: jobsRedriveOutput,
  },
} satisfies Contracts;
