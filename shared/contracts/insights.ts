// insights.* (server/routers/insights.ts): the Premium dashboard over the caller's own data.
import { z } from 'zod';
import type { Contracts, Meta } from '../contract.ts';
import { INSTRUMENTS } from '../inputs/assessments.ts';
import { trajectoryInput, windowInput } from '../inputs/insights.ts';
import { date } from './common.ts';

const insight = (summary: string): Meta => ({
  auth: 'user',
  permission: 'insights.read',
  feature: 'premium_dashboard',
  openapi: { summary },
});
/** The window asked for (insights' `days`: 7, 30 or 90). */
const windowDays = z.union([z.literal(7), z.literal(30), z.literal(90)]);

export const insightsContract = {
  moodTrend: {
    meta: insight('Mood by week over a window'),
    input: windowInput,
    output: z.object({
      days: windowDays,
      entries: z.number(),
      average: z.number().nullable(),
      weeks: z.array(z.object({ weekStart: z.string(), average: z.number(), entries: z.number() })),
    }),
  },
  streaks: {
    meta: insight('Days logged in a row: now and the longest'),
    output: z.object({
      current: z.number(),
      longest: z.number(),
      daysLogged: z.number(),
      lastDay: z.string().nullable(),
    }),
  },
  tags: {
    meta: insight('Mood with each tag against the average'),
    input: windowInput,
    output: z.object({
      days: windowDays,
      entries: z.number(),
      average: z.number().nullable(),
      tags: z.array(
        z.object({ tag: z.string(), entries: z.number(), average: z.number(), difference: z.number() }),
      ),
    }),
  },
  assessments: {
    meta: insight('Assessment scores over time, with severity band changes'),
    input: trajectoryInput,
    output: z.object({
      days: z.number(),
      points: z.array(
        z.object({
          id: z.string(),
          instrument: z.enum(INSTRUMENTS),
          score: z.number(),
          severity: z.string(),
          at: date,
          bandChange: z.object({ from: z.string(), to: z.string(), direction: z.string() }).nullable(),
        }),
      ),
    }),
  },
} satisfies Contracts;
