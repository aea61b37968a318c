// reports.* (server/routers/reports.ts): the caller's own series for a date range, JSON or
// CSV, in chunks: downloaded from GET /reports/<kind>, or read with httpBatchStreamLink.
import type { Contracts, Meta } from '../contract.ts';
import { assessmentReportInput, reportInput } from '../inputs/reports.ts';
import { downloadOutput } from './common.ts';

const report = (summary: string): Meta => ({
  auth: 'user',
  permission: 'reports.read',
  feature: 'advanced_reporting',
  openapi: { summary },
});

export const reportsContract = {
  mood: {
    meta: report("The caller's mood entries, JSON or CSV"),
    input: reportInput,
    output: downloadOutput,
  },
  assessments: {
    meta: report("The caller's assessments, JSON or CSV"),
    input: assessmentReportInput,
    output: downloadOutput,
  },
  sessions: {
    meta: report("The caller's therapy sessions, JSON or CSV"),
    input: reportInput,
    output: downloadOutput,
  },
} satisfies Contracts;
