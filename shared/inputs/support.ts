// support.* inputs (docs/api.md).
import { z } from 'zod';
import { idInput, noteInput, paginationInput, text } from './common.ts';

export const TICKET_STATUSES = ['open', 'answered', 'closed'] as const;
/** Tickets a user may have that are not closed: support.create past it is CONFLICT. */
export const SUPPORT_MAX_OPEN_TICKETS = 5;
/** Messages the owner may write on one ticket (the first included): support.reply past it is CONFLICT. */
export const SUPPORT_MAX_OWNER_MESSAGES = 50;

export const createTicketInput = z.strictObject({
  subject: text().trim().min(1).max(200),
  body: noteInput,
});
export const ticketIdInput = z.strictObject({ ticketId: idInput });
export const replyInput = z.strictObject({ ticketId: idInput, body: noteInput });
export const listTicketsInput = z.strictObject({ ...paginationInput }).prefault({});
export const queueInput = z
  .strictObject({ status: z.enum(['open', 'answered']).default('open'), ...paginationInput })
  .prefault({});
export const setStatusInput = z.strictObject({ ticketId: idInput, status: z.enum(TICKET_STATUSES) });
