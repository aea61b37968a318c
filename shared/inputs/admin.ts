// admin.views.* and admin.audit.* inputs (docs/api.md).
import { z } from 'zod';
import { idInput, paginationInput } from './common.ts';

export const auditListInput = z
  .strictObject({
    actorId: idInput.optional(),
    /** An exact action name such as `crisis.acknowledge` or `auth.login`. */
    action: z
      .string()
      .max(64)
      .regex(/^[a-z_]+(\.[a-z_]+)*$/, 'must be an action name such as crisis.acknowledge')
      .optional(),
    ...paginationInput,
  })
  .prefault({});
export type AuditListInput = z.infer<typeof auditListInput>;
