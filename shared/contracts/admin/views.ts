// admin.views.* (server/routers/admin/views.ts): repair the materialized views now (triggers
// keep them current; a repair compares each with its definition), and when each was repaired.
import { z } from 'zod';
import type { Contracts } from '../../contract.ts';
import { date } from '../common.ts';

export const adminViewsContract = {
  refresh: {
    meta: {
      auth: 'user',
      permission: 'views.refresh',
      openapi: { summary: 'Repair the materialized views now' },
    },
    output: z.array(
      z.object({
        name: z.string(),
        /** How long the view's repair took. */
        ms: z.number(),
        rows: z.number(),
        /** Rows that differed from the view's definition and were put right. */
        repaired: z.number(),
      }),
    ),
  },
  status: {
    meta: { auth: 'user', permission: 'views.refresh', openapi: { summary: "Each view's last repair" } },
    output: z.array(
      z.object({
        name: z.string(),
        /** Null: never repaired (ms and rows too). */
        lastRefreshedAt: date.nullable(),
        ms: z.number().nullable(),
        rows: z.number().nullable(),
        /** A base table changed since the last repair (the rows are current either way). */
        stale: z.boolean(),
      }),
    ),
  },
} satisfies Contracts;
