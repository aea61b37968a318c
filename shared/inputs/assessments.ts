// assessments.* inputs (docs/api.md): PHQ-9 takes 9 answers, GAD-7 takes 7, each 0–3.
import { z } from 'zod';
import { paginationInput } from './common.ts';

export const INSTRUMENTS = ['PHQ9', 'GAD7'] as const;
export type Instrument = (typeof INSTRUMENTS)[number];
export const ANSWER_COUNT: Record<Instrument, number> = { PHQ9: 9, GAD7: 7 };

const answer = z.number().int().min(0).max(3);

// One object with the count checked by a refinement (not a union of two objects): REST
// and its OpenAPI document describe an input as one object.
export const submitAssessmentInput = z
  .strictObject({ instrument: z.enum(INSTRUMENTS), answers: z.array(answer).min(7).max(9) })
  .refine((v) => v.answers.length === ANSWER_COUNT[v.instrument], {
    path: ['answers'],
    message: 'must have 9 answers for PHQ9, 7 for GAD7',
  });

export const assessmentHistoryInput = z
  .strictObject({ instrument: z.enum(INSTRUMENTS).optional(), ...paginationInput })
  .prefault({});
export type AssessmentHistoryInput = z.infer<typeof assessmentHistoryInput>;
export type SubmitAssessmentInput = z.infer<typeof submitAssessmentInput>;
