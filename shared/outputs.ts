// What the procedures served over REST (/api, server/http/rest.ts) return, as zod schemas:
// their `.output()`, from which the OpenAPI document describes the responses. A REST answer
// is checked against it (a field missing from here is dropped); /trpc answers are not
// (server/trpc/init.ts deferOutputChecks) — the tests run with OUTPUT_VALIDATION=all, where
// every call is checked and a result with a field missing from here fails. RouterOutputs
// follows these types. Dates are Date objects here; over REST they travel as ISO 8601
// strings (format date-time), over /trpc as superjson dates.
import { z } from 'zod';
import { USER_STATUSES } from './catalog.ts';
import { INSTRUMENTS } from './inputs/assessments.ts';

const date = z.date().meta({ format: 'date-time' });
const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });
const ok = z.object({ ok: z.literal(true) });

export const tokenPairOutput = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  /** Seconds the access token lives. */
  expiresIn: z.number(),
});
export const sessionUserOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  privilegeLevel: z.number(),
  permissions: z.array(z.string()),
  plan: z.string(),
  features: z.array(z.string()),
});
export const authResultOutput = tokenPairOutput.extend({ user: sessionUserOutput });
/**
 * auth.register: the same for every well-formed request, whether or not the address has an
 * account (no session: the account is confirmed from the emailed link, then logs in).
 */
export const registerOutput = z.object({ email: z.string(), confirmationSent: z.literal(true) });
export const apiKeyTokenOutput = z.object({
  accessToken: z.string(),
  expiresIn: z.number(),
  keyId: z.string(),
});
export const okOutput = ok;
export const meOutput = z.object({
  id: z.string(),
  email: z.string(),
  role: z.string(),
  privilegeLevel: z.number(),
  permissions: z.array(z.string()),
  features: z.array(z.string()),
  plan: z.string(),
  privacyNotice: z.string().nullable(),
  /** The address is confirmed (a link sent to it was followed). */
  emailVerified: z.boolean(),
  sessionId: z.string(),
  expiresAt: date,
  /** How the session was authenticated (RFC 8176 amr): ['pwd'], or with a factor ['pwd', 'otp', 'mfa']... */
  amr: z.array(z.string()),
  /** When the user last authenticated (the factor's time when amr has 'mfa'); null: not recorded. */
  authTime: date.nullable(),
});

export const profileOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  phone: z.string().nullable(),
  language: z.string().nullable(),
  role: z.string(),
  status: z.enum(USER_STATUSES),
  createdAt: date,
  therapist: z
    .object({
      specializations: z.array(z.string()),
      languages: z.array(z.string()),
      feePaise: z.number(),
      acceptingPatients: z.boolean(),
      bio: z.string().nullable(),
    })
    .nullable(),
});

export const plansOutput = z.array(
  z.object({ code: z.string(), name: z.string(), pricePaise: z.number(), features: z.array(z.string()) }),
);
export const noticeOutput = z.object({ version: z.string() });
export const acceptNoticeOutput = z.object({
  version: z.string(),
  acceptedAt: date,
  accessToken: z.string(),
  expiresIn: z.number(),
});

const moodEntry = z.object({
  id: z.string(),
  score: z.number(),
  note: z.string().nullable(),
  tags: z.array(z.string()),
  createdAt: date,
});
export const moodEntryOutput = moodEntry;
export const moodPageOutput = page(moodEntry);

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

export const therapistPageOutput = page(
  z.object({
    id: z.string(),
    name: z.string(),
    bio: z.string().nullable(),
    specializations: z.array(z.string()),
    languages: z.array(z.string()),
    feePaise: z.number(),
    acceptingPatients: z.boolean(),
  }),
);

const session = z.object({
  id: z.string(),
  patientId: z.string(),
  therapistId: z.string(),
  startsAt: date,
  durationMinutes: z.number(),
  status: z.enum(['booked', 'cancelled', 'completed']),
  createdAt: date,
});
export const sessionOutput = session;
export const mySessionsOutput = page(session.extend({ patientName: z.string(), therapistName: z.string() }));
export const scheduleOutput = page(session.extend({ patientName: z.string() }));
export const noteAddedOutput = z.object({ id: z.string(), sessionId: z.string(), createdAt: date });
export const notesOutput = z.object({
  sessionId: z.string(),
  notes: z.array(z.object({ id: z.string(), note: z.string(), createdAt: date })),
});

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
export const jobQueuesOutput = z.array(
  z.object({
    name: z.string(),
    queued: z.number(),
    active: z.number(),
    failed: z.number(),
    oldestSeconds: z.number(),
    deadLetters: z.number(),
  }),
);
export const jobsOutput = z.array(
  z.object({
    id: z.string(),
    queue: z.string(),
    state: z.string(),
    retryCount: z.number(),
    retryLimit: z.number(),
    createdOn: date,
    startedOn: date.nullable(),
    completedOn: date.nullable(),
    error: z.string().nullable(),
  }),
);
export const jobsRedriveOutput = z.object({ moved: z.number() });
