// therapy.* wired to their use cases (server/domain/therapy.ts: the slot rule, booking
// conflicts, encrypted notes).
import { therapyContract as c } from '../../shared/contracts/therapy.ts';
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
    .meta(c.book.meta)
    .input(c.book.input)
    .output(c.book.output)
    .mutation(({ ctx, input }) =>
      bookSession(ctx.deps.db, ctx.auth.sub, input, ctx.deps.config.MAX_UPCOMING_BOOKINGS),
    ),

  // No permission of its own: the booking patient or the session's therapist (while a
  // therapist) may cancel; an API key only when scoped to book or manage sessions.
  cancel: protectedProcedure
    .meta(c.cancel.meta)
    .input(c.cancel.input)
    .output(c.cancel.output)
    .mutation(({ ctx, input }) => cancelSession(ctx.deps.db, ctx.auth.sub, input.sessionId)),

  mine: protectedProcedure
    .meta(c.mine.meta)
    .input(c.mine.input)
    .output(c.mine.output)
    .query(({ ctx, input }) => mySessions(ctx.deps.db, ctx.auth.sub, input)),

  schedule: protectedProcedure
    .meta(c.schedule.meta)
    .input(c.schedule.input)
    .output(c.schedule.output)
    .query(({ ctx, input }) => therapistSchedule(ctx.deps.db, ctx.auth.sub, input)),

  addNote: protectedProcedure
    .meta(c.addNote.meta)
    .input(c.addNote.input)
    .output(c.addNote.output)
    .mutation(({ ctx, input }) => addNote(ctx.deps.db, ctx.deps.notes, ctx.auth.sub, input)),

  notes: protectedProcedure
    .meta(c.notes.meta)
    .input(c.notes.input)
    .output(c.notes.output)
    .query(({ ctx, input }) => readNotes(ctx.deps.db, ctx.deps.notes, readerOf(ctx), input.sessionId)),
});
