// insights.* inputs (docs/api.md).
import { z } from 'zod';

/** The dashboard's windows: the last 7, 30 or 90 days. */
export const windowInput = z
  .strictObject({ days: z.union([z.literal(7), z.literal(30), z.literal(90)]).default(30) })
  .prefault({});

export const trajectoryInput = z
  .strictObject({
    instrument: z.enum(['PHQ9', 'GAD7']).optional(),
    /** Results of the last `days` days (at most two years). */
    days: z.number().int().min(7).max(730).default(365),
  })
  .prefault({});
