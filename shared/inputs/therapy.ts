// therapists.* and therapy.* inputs (docs/api.md).
//
// The slot rule: a session starts on a whole UTC hour (minutes, seconds and milliseconds
// all zero), strictly in the future and at most BOOKING_HORIZON_DAYS ahead; it lasts 50
// minutes. The database enforces the hour boundary too (CHECK therapy_sessions_slot_boundary)
// and decides double bookings (unique live slot per therapist and per patient).
import { z } from 'zod';
import {
  dateInput,
  idInput,
  labelInput,
  noteInput,
  orderedRange,
  paginationInput,
  rangeMessage,
} from './common.ts';

export const SLOT_MS = 3_600_000;
export const BOOKING_HORIZON_DAYS = 180;

export const therapistListInput = z
  .strictObject({
    specialization: labelInput.optional(),
    language: labelInput.optional(),
    ...paginationInput,
  })
  .prefault({});

export const bookSessionInput = z.strictObject({
  therapistId: idInput,
  startsAt: dateInput()
    .refine((d) => d.getTime() % SLOT_MS === 0, 'must start on a whole UTC hour (e.g. 10:00:00.000Z)')
    .refine((d) => d.getTime() > Date.now(), 'must be in the future')
    .refine(
      (d) => d.getTime() <= Date.now() + BOOKING_HORIZON_DAYS * 86_400_000,
      `must be within ${BOOKING_HORIZON_DAYS} days`,
    ),
});

export const sessionIdInput = z.strictObject({ sessionId: idInput });

export const mySessionsInput = z
  .strictObject({
    /** true: only sessions that have not started yet. */
    upcoming: z.boolean().optional(),
    ...paginationInput,
  })
  .prefault({});

export const scheduleInput = z
  .strictObject({
    /** Default: now. */
    from: dateInput().optional(),
    to: dateInput().optional(),
    includeCancelled: z.boolean().default(false),
    ...paginationInput,
  })
  .refine(orderedRange, rangeMessage)
  .prefault({});

export const addNoteInput = z.strictObject({ sessionId: idInput, note: noteInput });
export type TherapistListInput = z.infer<typeof therapistListInput>;
export type ScheduleInput = z.infer<typeof scheduleInput>;
export type BookSessionInput = z.infer<typeof bookSessionInput>;
export type AddNoteInput = z.infer<typeof addNoteInput>;
export type MySessionsInput = z.infer<typeof mySessionsInput>;
