// support.* (server/routers/support.ts): tickets for every user (support.use); staff
// (support.manage) work the queue.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import {
  createTicketInput,
  listTicketsInput,
  queueInput,
  replyInput,
  setStatusInput,
  TICKET_STATUSES,
  ticketIdInput,
} from '../inputs/support.ts';
import { date, page } from './common.ts';

export const TICKET_PRIORITIES = ['priority', 'standard'] as const;
const status = z.enum(TICKET_STATUSES);
const priority = z.enum(TICKET_PRIORITIES);
const ticket = z.object({
  id: z.string(),
  subject: z.string(),
  priority,
  status,
  createdAt: date,
  updatedAt: date,
});

const use = (summary: string) => ({ auth: 'user', permission: 'support.use', openapi: { summary } }) as const;
const manage = (summary: string) =>
  ({ auth: 'user', permission: 'support.manage', openapi: { summary } }) as const;

export const supportContract = {
  create: {
    meta: use('Open a ticket (priority from the plan)'),
    input: createTicketInput,
    output: ticket.omit({ updatedAt: true }),
  },
  listMine: {
    meta: use("The caller's tickets, newest first"),
    input: listTicketsInput,
    output: page(ticket),
  },
  thread: {
    meta: use("A ticket and its messages (the owner's, or any for staff)"),
    input: ticketIdInput,
    output: ticket.extend({
      userId: z.string(),
      messages: z.array(
        z.object({ id: z.string(), fromStaff: z.boolean(), body: z.string(), createdAt: date }),
      ),
    }),
  },
  reply: {
    meta: use('Reply to a ticket (its owner, or staff)'),
    input: replyInput,
    output: z.object({
      id: z.string(),
      ticketId: z.string(),
      status,
      fromStaff: z.boolean(),
      createdAt: date,
    }),
  },
  escalate: {
    meta: {
      auth: 'user',
      permission: 'support.use',
      feature: 'priority_support',
      openapi: { summary: "Raise a ticket's priority" },
    },
    input: ticketIdInput,
    output: z.object({ id: z.string(), priority }),
  },
  queue: {
    meta: manage('The support queue'),
    input: queueInput,
    output: page(ticket.extend({ userId: z.string() })),
  },
  setStatus: {
    meta: manage("Set a ticket's status"),
    input: setStatusInput,
    output: z.object({ id: z.string(), status }),
  },
} satisfies Contracts;
