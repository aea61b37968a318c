// therapy.* (server/routers/therapy.ts): booking sessions and their encrypted notes.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import {
  addNoteInput,
  bookSessionInput,
  mySessionsInput,
  scheduleInput,
  sessionIdInput,
} from '../inputs/therapy.ts';
import { date, page } from './common.ts';

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

export const therapyContract = {
  book: {
    meta: {
      auth: 'user',
      permission: 'sessions.book',
      feature: 'therapist_booking',
      openapi: {
        summary: 'Book a 50-minute session on a whole UTC hour',
      },
    },
    input: bookSessionInput,
    output: sessionOutput,
  },
  cancel: {
    meta: {
      auth: 'user',
      apiKey: ['sessions.book', 'sessions.manage'],
      openapi: {
        summary: 'Cancel a session (its patient or its therapist)',
      },
    },
    input: sessionIdInput,
    output: sessionOutput,
  },
  mine: {
    meta: {
      auth: 'user',
      permission: 'sessions.read',
      openapi: { summary: "The patient's sessions" },
    },
    input: mySessionsInput,
    output: mySessionsOutput,
  },
  schedule: {
    meta: {
      auth: 'user',
      permission: 'sessions.manage',
      openapi: {
        summary: "The therapist's sessions",
      },
    },
    input: scheduleInput,
    output: scheduleOutput,
  },
  addNote: {
    meta: {
      auth: 'user',
      permission: 'notes.write',
      openapi: {
        summary: 'Add an encrypted note to a session (its therapist)',
      },
    },
    input: addNoteInput,
    output: noteAddedOutput,
  },
  notes: {
    meta: {
      auth: 'user',
      permission: 'notes.read',
      stepUp: true,
      openapi: {
        summary: "A session's notes (its therapist)",
      },
    },
    input: sessionIdInput,
    output: notesOutput,
  },
} satisfies Contracts;
