// assessments.* (server/routers/assessments.ts): PHQ-9 and GAD-7 self-assessments.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import { assessmentHistoryInput, INSTRUMENTS, submitAssessmentInput } from '../inputs/assessments.ts';
import { date, page } from './common.ts';

const instrument = z.enum(INSTRUMENTS);
export const assessmentResultOutput = z.object({
  id: z.string(),
  instrument,
  score: z.number(),
  severity: z.string(),
  crisis: z.boolean(),
});
export const assessmentPageOutput = page(
  assessmentResultOutput.extend({ answers: z.array(z.number()), createdAt: date }),
);

export const assessmentsContract = {
  submit: {
    meta: {
      auth: 'user',
      permission: 'assessments.submit',
      feature: 'assessments',
      openapi: {
        summary: 'Submit a PHQ-9 or GAD-7',
      },
    },
    input: submitAssessmentInput,
    output: assessmentResultOutput,
  },
  history: {
    meta: {
      auth: 'user',
      permission: 'assessments.read',
      feature: 'assessments',
      openapi: {
        summary: "The caller's assessments, newest first",
      },
    },
    input: assessmentHistoryInput,
    output: assessmentPageOutput,
  },
} satisfies Contracts;
