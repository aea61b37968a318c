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
  addNote,
  bookSession,
  cancelSession,
  mySessions,
  readNotes,
  therapistSchedule,
} from '../domain/therapy.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const therapyRouter = router({
  book: protectedProcedure
    .meta({ auth: 'user', permission: 'sessions.book', feature: 'therapist_booking' })
    .input(bookSessionInput)
    .mutation(({ ctx, input }) =>
      bookSession(ctx.deps.db, ctx.auth.sub, input, ctx.deps.config.MAX_UPCOMING_BOOKINGS),
    ),

  // No permission of its own: the booking patient or the session's therapist (while a
  // therapist) may cancel.
  cancel: protectedProcedure
    .meta({ auth: 'user' })
    .input(sessionIdInput)
    .mutation(({ ctx, input }) => cancelSession(ctx.deps.db, ctx.auth.sub, input.sessionId)),

  mine: protectedProcedure
    .meta({ auth: 'user', permission: 'sessions.read' })
    .input(mySessionsInput)
    .query(({ ctx, input }) => mySessions(ctx.deps.db, ctx.auth.sub, input)),

  schedule: protectedProcedure
    .meta({ auth: 'user', permission: 'sessions.manage' })
    .input(scheduleInput)
    .query(({ ctx, input }) => therapistSchedule(ctx.deps.db, ctx.auth.sub, input)),

  addNote: protectedProcedure
    .meta({ auth: 'user', permission: 'notes.write' })
    .input(addNoteInput)
    .mutation(({ ctx, input }) => addNote(ctx.deps.db, ctx.deps.notes, ctx.auth.sub, input)),

  notes: protectedProcedure
    .meta({ auth: 'user', permission: 'notes.read' })
    .input(sessionIdInput)
    .query(({ ctx, input }) => readNotes(ctx.deps.db, ctx.deps.notes, ctx.auth.sub, input.sessionId)),
});
