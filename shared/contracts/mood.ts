// mood.* (server/routers/mood.ts).
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import { listMoodInput, logMoodInput } from '../inputs/mood.ts';
import { date, page } from './common.ts';

const moodEntry = z.object({
  id: z.string(),
  score: z.number(),
  note: z.string().nullable(),
  tags: z.array(z.string()),
  createdAt: date,
});
export const moodEntryOutput = moodEntry;
export const moodPageOutput = page(moodEntry);

export const moodContract = {
  log: {
    meta: {
      auth: 'user',
      permission: 'mood.write',
      feature: 'mood_tracking',
      openapi: { summary: 'Log a mood entry' },
    },
    input: logMoodInput,
    output: moodEntryOutput,
  },
  list: {
    meta: {
      auth: 'user',
      permission: 'mood.read',
      feature: 'mood_tracking',
      openapi: {
        summary: "The caller's mood entries, newest first",
      },
    },
    input: listMoodInput,
    output: moodPageOutput,
  },
} satisfies Contracts;
