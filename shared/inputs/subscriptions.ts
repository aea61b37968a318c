// subscriptions.* inputs.
import { z } from 'zod';
import { PLAN_CODES } from '../catalog.ts';

export const checkoutInput = z.strictObject({ planCode: z.enum(PLAN_CODES) });
export type TCheckoutInput = z.infer<typeof checkoutInput>;
