// admin.audit.list (server/routers/admin/audit.ts): the audit log.
import { z } from 'zod';
import { ACCESS_ACTIONS } from '../../audit.ts';
import type { Contracts } from '../../contract.ts';
import { auditListInput } from '../../inputs/admin.ts';
import { date, page } from '../common.ts';

/**
 * The list may hold audited reads (who read whose health data): every input except one
 * filtered to a single action that is not an audited read (ACCESS_ACTIONS). Read from the
 * raw input, before it is parsed: anything unexpected counts as "may".
 */
function mayListReads(input: unknown): boolean {
  if (typeof input !== 'object' || input === null) return true;
  const { reads, action } = input as { reads?: unknown; action?: unknown };
  return reads === true || typeof action !== 'string' || Object.hasOwn(ACCESS_ACTIONS, action);
}

export const adminAuditContract = {
  list: {
    meta: {
      auth: 'user',
      permission: 'audit.read',
      // Who read whose health data is itself sensitive: a fresh factor for those entries.
      stepUp: { when: 'unless filtered to one action that is not an audited read', test: mayListReads },
      openapi: { summary: 'The audit log, newest first' },
    },
    input: auditListInput,
    output: page(
      z.object({
        id: z.number(),
        at: date,
        actorId: z.string().nullable(),
        actorEmail: z.string().nullable(),
        action: z.string(),
        targetId: z.string().nullable(),
        targetEmail: z.string().nullable(),
        ip: z.string().nullable(),
        requestId: z.string().nullable(),
        details: z.record(z.string(), z.unknown()).nullable(),
      }),
    ),
  },
} satisfies Contracts;
