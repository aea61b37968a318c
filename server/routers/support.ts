// support.*: tickets for every user (support.use); staff (support.manage) work the queue.
import { supportContract as c } from '../../shared/contracts/support.ts';
import {
  createTicket,
  escalateTicket,
  listMyTickets,
  replyToTicket,
  setTicketStatus,
  ticketQueue,
  ticketThread,
} from '../domain/support.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const supportRouter = router({
  /** Priority comes from the token's features (priority_support): no extra query. */
  create: protectedProcedure
    .meta(c.create.meta)
    .input(c.create.input)
    .output(c.create.output)
    .mutation(({ ctx, input }) => createTicket(ctx.deps.db, ctx.auth, ctx.req.ip, input)),
  listMine: protectedProcedure
    .meta(c.listMine.meta)
    .input(c.listMine.input)
    .output(c.listMine.output)
    .query(({ ctx, input }) => listMyTickets(ctx.deps.db, ctx.auth.sub, input)),
  /** The owner's ticket, or any ticket for staff. */
  thread: protectedProcedure
    .meta(c.thread.meta)
    .input(c.thread.input)
    .output(c.thread.output)
    .query(({ ctx, input }) => ticketThread(ctx.deps.db, ctx.auth, input.ticketId)),
  /** By the owner, or by staff (support.manage) on any ticket. */
  reply: protectedProcedure
    .meta(c.reply.meta)
    .input(c.reply.input)
    .output(c.reply.output)
    .mutation(({ ctx, input }) => replyToTicket(ctx.deps.db, ctx.auth, ctx.req.ip, input)),
  escalate: protectedProcedure
    .meta(c.escalate.meta)
    .input(c.escalate.input)
    .output(c.escalate.output)
    .mutation(({ ctx, input }) => escalateTicket(ctx.deps.db, ctx.auth.sub, ctx.req.ip, input.ticketId)),
  queue: protectedProcedure
    .meta(c.queue.meta)
    .input(c.queue.input)
    .output(c.queue.output)
    .query(({ ctx, input }) => ticketQueue(ctx.deps.db, input)),
  setStatus: protectedProcedure
    .meta(c.setStatus.meta)
    .input(c.setStatus.input)
    .output(c.setStatus.output)
    .mutation(({ ctx, input }) => setTicketStatus(ctx.deps.db, ctx.auth.sub, ctx.req.ip, input)),
});
