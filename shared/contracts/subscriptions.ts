// subscriptions.* (server/routers/subscriptions.ts): the plan catalog (public), the caller's
// current subscription and the self-service changes. The plan itself changes on the payment
// webhook.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import { checkoutInput } from '../inputs/subscriptions.ts';
import { date } from './common.ts';

export const SUBSCRIPTION_STATUSES = ['none', 'active', 'cancelled', 'past_due', 'expired'] as const;

export const plansOutput = z.array(
  z.object({ code: z.string(), name: z.string(), pricePaise: z.number(), features: z.array(z.string()) }),
);
/** A Razorpay order to pay with Razorpay Checkout (key, order, amount). */
export const checkoutOutput = z.object({
  orderId: z.string(),
  /** Razorpay's public key id, for Checkout. */
  keyId: z.string(),
  plan: z.string(),
  amountPaise: z.number(),
  currency: z.literal('INR'),
});

export const subscriptionsContract = {
  plans: {
    meta: { auth: 'public', openapi: { summary: 'The plans and their features, cheapest first' } },
    output: plansOutput,
  },
  current: {
    meta: { auth: 'user', openapi: { summary: "The caller's plan and subscription" } },
    output: z.object({
      plan: z.string(),
      /** 'none': the user never subscribed. */
      status: z.enum(SUBSCRIPTION_STATUSES),
      currentPeriodEnd: date.nullable(),
      cancelAtPeriodEnd: z.boolean(),
    }),
  },
  checkout: {
    meta: {
      auth: 'user',
      rateLimit: 'checkout',
      verifiedEmail: true,
      openapi: { summary: 'A payment order for a plan (the plan changes when it is paid)', errors: [412] },
    },
    input: checkoutInput,
    output: checkoutOutput,
  },
  cancel: {
    meta: {
      auth: 'user',
      openapi: { summary: 'Cancel at the end of the paid period' },
    },
    output: z.object({ cancelAtPeriodEnd: z.literal(true), currentPeriodEnd: date }),
  },
} satisfies Contracts;
