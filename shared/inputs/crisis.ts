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

/**
 * crisis.onChange: lastEventId is what the SSE client sends back when it reconnects (tRPC's
 * httpSubscriptionLink adds it to the input): the events after it are sent first.
 */
export const crisisOnChangeInput = z
  .strictObject({
    lastEventId: z
      .string()
      .regex(/^\d{1,15}$/, 'must be an event id')
      .nullish(),
  })
  .prefault({});

/**
 * crisis.onCall.set: on call from startsAt (default now) until endsAt (at most 14 days later);
 * endsAt null: off call.
 */
export const onCallSetInput = z.strictObject({
  startsAt: z.coerce.date().optional(),
  endsAt: z.coerce.date().nullable(),
});
export type OnCallSetInput = z.infer<typeof onCallSetInput>;
