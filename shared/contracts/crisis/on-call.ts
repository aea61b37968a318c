// crisis.onCall.* (server/routers/crisis/on-call.ts): the on-call schedule.
import { z } from 'zod';
import type { Contracts } from '../../contract.ts';
import { onCallSetInput } from '../../inputs/crisis.ts';
import { date } from '../common.ts';

export const onCallContract = {
  set: {
    meta: {
      auth: 'user',
      permission: 'crisis.manage',
      openapi: { summary: 'The caller on call until endsAt (null: off call), told of new alerts' },
    },
    input: onCallSetInput,
    output: z.union([
      z.object({ onCall: z.literal(false), startsAt: z.null(), endsAt: z.null() }),
      z.object({ onCall: z.literal(true), startsAt: date, endsAt: date }),
    ]),
  },
  list: {
    meta: {
      auth: 'user',
      permission: 'crisis.manage',
      openapi: { summary: 'Who is on call now or later, soonest first' },
    },
    output: z.array(
      z.object({
        userId: z.string(),
        name: z.string(),
        startsAt: date,
        endsAt: date,
        onCallNow: z.boolean(),
      }),
    ),
  },
} satisfies Contracts;
