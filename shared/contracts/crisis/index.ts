// crisis.* (server/routers/crisis/index.ts): the crisis queue and its live changes;
// crisis.onCall.*: ./on-call.ts.
import { z } from 'zod';
import type { Contracts } from '../../contract.ts';
import { INSTRUMENTS } from '../../inputs/assessments.ts';
import {
  acknowledgeCrisisInput,
  CRISIS_STATUSES,
  crisisListInput,
  crisisOnChangeInput,
} from '../../inputs/crisis.ts';
import { date, page } from '../common.ts';

/**
 * One event of crisis.onChange (a tracked event: `id` is also the SSE event id a client
 * resumes from). `resync`: the client was too far behind to be caught up event by event and
 * reloads the queue (crisis.list); its alert and patient are null.
 */
export const CRISIS_EVENT_KINDS = ['raised', 'acknowledged', 'escalated', 'resync'] as const;
export const crisisEventOutput = z.object({
  id: z.string(),
  kind: z.enum(CRISIS_EVENT_KINDS),
  alertId: z.string().nullable(),
  patientId: z.string().nullable(),
  /** The alert's escalation level after the event (0 none, 1 admins told, 2 told again). */
  level: z.number(),
  at: date,
  /** Who acknowledged (acknowledged events), else null. */
  actor: z.object({ id: z.string(), name: z.string() }).nullable(),
});
export type CrisisEvent = z.infer<typeof crisisEventOutput>;

const manage = (summary: string) =>
  ({ auth: 'user', permission: 'crisis.manage', openapi: { summary } }) as const;

export const crisisContract = {
  list: {
    meta: manage('The crisis queue (an audited read of each patient shown)'),
    input: crisisListInput,
    output: page(
      z.object({
        id: z.string(),
        status: z.enum(CRISIS_STATUSES),
        createdAt: date,
        patient: z.object({
          id: z.string(),
          name: z.string(),
          email: z.string(),
          phone: z.string().nullable(),
        }),
        /** Crisis-level screenings attached to the alert. */
        submissions: z.number(),
        acknowledgedBy: z.string().nullable(),
        acknowledgedAt: date.nullable(),
        acknowledgedByName: z.string().nullable(),
        /** 0 none, 1 admins told, 2 told again. */
        escalationLevel: z.number(),
        lastAssessmentId: z.string().nullable(),
        lastSubmittedAt: date,
        /** The screening that raised (or last joined) the alert. */
        assessment: z.object({
          id: z.string(),
          instrument: z.enum(INSTRUMENTS),
          score: z.number(),
          severity: z.string(),
        }),
      }),
    ),
  },
  acknowledge: {
    meta: manage('Acknowledge a crisis alert'),
    input: acknowledgeCrisisInput,
    output: z.object({
      id: z.string(),
      userId: z.string(),
      status: z.enum(CRISIS_STATUSES),
      acknowledgedBy: z.string().nullable(),
      acknowledgedAt: date.nullable(),
      createdAt: date,
    }),
  },
  /** Server-sent events on /trpc only (no REST route): tracked events, crisisEventOutput each. */
  onChange: {
    meta: manage('The live queue'),
    input: crisisOnChangeInput,
    event: crisisEventOutput,
  },
} satisfies Contracts;
