// assessments.* inputs (docs/api.md): PHQ-9 takes 9 answers, GAD-7 takes 7, each 0–3.
import { z } from 'zod';
import { paginationInput } from './common.ts';

export const INSTRUMENTS = ['PHQ9', 'GAD7'] as const;
export type Instrument = (typeof INSTRUMENTS)[number];
export const ANSWER_COUNT: Record<Instrument, number> = { PHQ9: 9, GAD7: 7 };

const answer = z.number().int().min(0).max(3);

export const submitAssessmentInput = z.discriminatedUnion('instrument', [
  z.strictObject({ instrument: z.literal('PHQ9'), answers: z.array(answer).length(9) }),
  z.strictObject({ instrument: z.literal('GAD7'), answers: z.array(answer).length(7) }),
]);

export const assessmentHistoryInput = z
  .strictObject({ instrument: z.enum(INSTRUMENTS).optional(), ...paginationInput })
  .prefault({});
export type AssessmentHistoryInput = z.infer<typeof assessmentHistoryInput>;
export type SubmitAssessmentInput = z.infer<typeof submitAssessmentInput>;
