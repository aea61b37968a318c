// reports.* inputs (docs/api.md): a bounded date range and an output format.
import { z } from 'zod';
import { dateInput, orderedRange, rangeMessage } from './common.ts';

/** The longest range one report covers. */
export const REPORT_MAX_DAYS = 1830;
const DAY_MS = 86_400_000;

const range = {
  from: dateInput(),
  to: dateInput(),
  format: z.enum(['json', 'csv']).default('json'),
};
const withinMax = (v: { from: Date; to: Date }) =>
  v.to.getTime() - v.from.getTime() <= REPORT_MAX_DAYS * DAY_MS;
const maxMessage = { message: `the range must not exceed ${REPORT_MAX_DAYS} days`, path: ['to'] };

export const reportInput = z
  .strictObject(range)
  .refine(orderedRange, rangeMessage)
  .refine(withinMax, maxMessage);

export const assessmentReportInput = z
  .strictObject({ ...range, instrument: z.enum(['PHQ9', 'GAD7']).optional() })
  .refine(orderedRange, rangeMessage)
  .refine(withinMax, maxMessage);
