// crisis.* inputs (docs/api.md).
import { z } from 'zod';
import { idInput, paginationInput } from './common.ts';

export const CRISIS_STATUSES = ['open', 'acknowledged'] as const;

export const crisisListInput = z
  .strictObject({
    status: z.enum(CRISIS_STATUSES).optional(),
    /** newest first (default), or oldest first (the console's queue of open alerts). */
    order: z.enum(['newest', 'oldest']).default('newest'),
    ...paginationInput,
  })
  .prefault({});

export const acknowledgeCrisisInput = z.strictObject({ alertId: idInput });
export type CrisisListInput = z.infer<typeof crisisListInput>;
