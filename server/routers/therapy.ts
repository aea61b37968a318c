// therapy.* wired to their use cases (server/domain/therapy.ts: the slot rule, booking
// conflicts, encrypted notes).
import {
  addNoteInput,
  bookSessionInput,
  mySessionsInput,
  scheduleInput,
  sessionIdInput,
} from '../../shared/inputs/therapy.ts';
import {
  mySessionsOutput,
  noteAddedOutput,
  notesOutput,
  scheduleOutput,
  sessionOutput,
} from '../../shared/outputs.ts';
import {
  addNote,
  bookSession,
  cancelSession,
  mySessions,
  readNotes,
  therapistSchedule,
} from '../domain/therapy.ts';
import { readerOf } from '../trpc/context.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const therapyRouter = router({
  book: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'sessions.book',
      feature: 'therapist_booking',
      openapi: {
        summary: 'Book a 50-minute session on a whole UTC hour',
      },
    })
    .input(bookSessionInput)
    .output(sessionOutput)
    .mutation(({ ctx, input }) =>
      bookSession(ctx.deps.db, ctx.auth.sub, input, ctx.deps.config.MAX_UPCOMING_BOOKINGS),
    ),

  // No permission of its own: the booking patient or the session's therapist (while a
  // therapist) may cancel; an API key only when scoped to book or manage sessions.
  cancel: protectedProcedure
    .meta({
      auth: 'user',
      apiKey: ['sessions.book', 'sessions.manage'],
      openapi: {
        summary: 'Cancel a session (its patient or its therapist)',
      },
    })
    .input(sessionIdInput)
    .output(sessionOutput)
    .mutation(({ ctx, input }) => cancelSession(ctx.deps.db, ctx.auth.sub, input.sessionId)),

  mine: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'sessions.read',
      openapi: { summary: "The patient's sessions" },
    })
    .input(mySessionsInput)
    .output(mySessionsOutput)
    .query(({ ctx, input }) => mySessions(ctx.deps.db, ctx.auth.sub, input)),

  schedule: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'sessions.manage',
      openapi: {
        summary: "The therapist's sessions",
      },
    })
    .input(scheduleInput)
    .output(scheduleOutput)
    .query(({ ctx, input }) => therapistSchedule(ctx.deps.db, ctx.auth.sub, input)),

  addNote: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'notes.write',
      openapi: {
        summary: 'Add an encrypted note to a session (its therapist)',
      },
    })
    .input(addNoteInput)
    .output(noteAddedOutput)
    .mutation(({ ctx, input }) => addNote(ctx.deps.db, ctx.deps.notes, ctx.auth.sub, input)),

  notes: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'notes.read',
      stepUp: true,
      openapi: {
        summary: "A session's notes (its therapist)",
      },
    })
    .input(sessionIdInput)
    .output(notesOutput)
    .query(({ ctx, input }) => readNotes(ctx.deps.db, ctx.deps.notes, readerOf(ctx), input.sessionId)),
});
