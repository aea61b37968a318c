// mood.* inputs (docs/api.md).
import { z } from 'zod';
import {
  dateInput,
  labelListInput,
  noteInput,
  orderedRange,
  paginationInput,
  rangeMessage,
} from './common.ts';

export const logMoodInput = z.strictObject({
  score: z.number().int().min(1).max(10),
  note: noteInput.optional(),
  tags: labelListInput.optional(),
});

export const listMoodInput = z
  .strictObject({ from: dateInput().optional(), to: dateInput().optional(), ...paginationInput })
  .refine(orderedRange, rangeMessage)
  .prefault({});
export type LogMoodInput = z.infer<typeof logMoodInput>;
export type ListMoodInput = z.infer<typeof listMoodInput>;
