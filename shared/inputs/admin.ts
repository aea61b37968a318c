// admin.views.* and admin.audit.* inputs (docs/api.md).
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
