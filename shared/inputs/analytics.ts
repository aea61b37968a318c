// analytics.* inputs.
import { z } from 'zod';

export const analyticsActivityInput = z
  .strictObject({ days: z.number().int().min(1).max(90).default(30) })
  .prefault({});
