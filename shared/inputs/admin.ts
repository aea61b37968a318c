// admin.views.*, admin.audit.* and admin.jobs.* inputs (docs/api.md).
import { z } from 'zod';
import { AUDIT_ACTIONS } from '../audit.ts';
import { dateInput, idInput, orderedRange, paginationInput, rangeMessage } from './common.ts';

export const auditListInput = z
  .strictObject({
    actorId: idInput.optional(),
    /** The user the entry is about: for an audited read, the person whose data was read. */
    targetId: idInput.optional(),
    /** Only audited reads of health data (ACCESS_ACTIONS, shared/audit.ts). */
    reads: z.boolean().optional(),
    /** One of AUDIT_ACTIONS (shared/audit.ts). */
    action: z.enum(AUDIT_ACTIONS).optional(),
    /** Entries at or after `from` and at or before `to`. */
    from: dateInput().optional(),
    to: dateInput().optional(),
    ...paginationInput,
  })
  .refine(orderedRange, rangeMessage)
  .prefault({});
export type AuditListInput = z.infer<typeof auditListInput>;

/** The queues the console shows: each product queue and its dead-letter queue. */
export const JOB_QUEUE_NAMES = ['email', 'email-dead', 'account', 'account-dead'] as const;
export const JOB_STATES = ['created', 'retry', 'active', 'completed', 'failed'] as const;

export const jobsListInput = z
  .strictObject({
    queue: z.enum(JOB_QUEUE_NAMES).default('email'),
    state: z.enum(JOB_STATES).optional(),
    limit: z.number().int().min(1).max(100).default(50),
  })
  .prefault({});
export type JobsListInput = z.infer<typeof jobsListInput>;

export const jobsRedriveInput = z.strictObject({
  queue: z.enum(['email', 'account']),
  /** Dead-lettered jobs to send again (ids in the dead-letter queue); omitted: all of them (up to 1000). */
  ids: z.array(z.uuid()).min(1).max(100).optional(),
});
export type JobsRedriveInput = z.infer<typeof jobsRedriveInput>;
