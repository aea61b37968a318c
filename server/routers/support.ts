// support.*: tickets for every user (support.use); staff (support.manage) work the queue.
import {
  createTicketInput,
  listTicketsInput,
  queueInput,
  replyInput,
  setStatusInput,
  ticketIdInput,
} from '../../shared/inputs/support.ts';
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

const use = protectedProcedure.meta({ auth: 'user', permission: 'support.use' });
const manage = protectedProcedure.meta({ auth: 'user', permission: 'support.manage' });

export const supportRouter = router({
  /** Priority comes from the token's features (priority_support): no extra query. */
  create: use
    .input(createTicketInput)
    .mutation(({ ctx, input }) => createTicket(ctx.deps.db, ctx.auth, ctx.req.ip, input)),
  listMine: use
    .input(listTicketsInput)
    .query(({ ctx, input }) => listMyTickets(ctx.deps.db, ctx.auth.sub, input)),
  /** The owner's ticket, or any ticket for staff. */
  thread: use
    .input(ticketIdInput)
    .query(({ ctx, input }) => ticketThread(ctx.deps.db, ctx.auth, input.ticketId)),
  /** By the owner, or by staff (support.manage) on any ticket. */
  reply: use
    .input(replyInput)
    .mutation(({ ctx, input }) => replyToTicket(ctx.deps.db, ctx.auth, ctx.req.ip, input)),
  escalate: protectedProcedure
    .meta({ auth: 'user', permission: 'support.use', feature: 'priority_support' })
    .input(ticketIdInput)
    .mutation(({ ctx, input }) => escalateTicket(ctx.deps.db, ctx.auth.sub, ctx.req.ip, input.ticketId)),
  queue: manage.input(queueInput).query(({ ctx, input }) => ticketQueue(ctx.deps.db, input)),
  setStatus: manage
    .input(setStatusInput)
    .mutation(({ ctx, input }) => setTicketStatus(ctx.deps.db, ctx.auth.sub, ctx.req.ip, input)),
});
