// support.* inputs (docs/api.md).
import { z } from 'zod';
import { idInput, noteInput, paginationInput } from './common.ts';

export const TICKET_STATUSES = ['open', 'answered', 'closed'] as const;

export const createTicketInput = z.strictObject({
  subject: z.string().trim().min(1).max(200),
  body: noteInput,
});
export const ticketIdInput = z.strictObject({ ticketId: idInput });
export const replyInput = z.strictObject({ ticketId: idInput, body: noteInput });
export const listTicketsInput = z.strictObject({ ...paginationInput }).prefault({});
export const queueInput = z
  .strictObject({ status: z.enum(['open', 'answered']).default('open'), ...paginationInput })
  .prefault({});
export const setStatusInput = z.strictObject({ ticketId: idInput, status: z.enum(TICKET_STATUSES) });
