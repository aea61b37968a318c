// support.*: tickets for every user; staff (support.manage) work a queue in which
// 'priority' tickets — opened by a user whose plan has priority_support, read from the
// token's features, or escalated later; standard again once the plan no longer has it
// (migration 0035) — come first, then the oldest. Every change is one statement with its
// audit entry. A user has at most SUPPORT_MAX_OPEN_TICKETS tickets not closed and writes at
// most SUPPORT_MAX_OWNER_MESSAGES messages on each, exactly under concurrency.
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import { date } from '../../db/row.ts';
import { supportMessages, supportTickets } from '../../db/schema/index.ts';
import {
  type createTicketInput,
  type listTicketsInput,
  type queueInput,
  type replyInput,
  SUPPORT_MAX_OPEN_TICKETS,
  SUPPORT_MAX_OWNER_MESSAGES,
  type setStatusInput,
} from '../../shared/inputs/support.ts';
import { auditInsert } from '../audit.ts';
import type { AccessClaims } from '../auth/tokens.ts';
import { afterTimeCursor, decodeCursor, exactTimestamp, timePage, toPage } from '../keyset.ts';
import { conflict, notFound } from './errors.ts';

type Caller = Pick<AccessClaims, 'sub' | 'features' | 'permissions'>;
export const isStaff = (caller: Caller) => caller.permissions.includes('support.manage');

const ticketColumns = {
  id: supportTickets.id,
  subject: supportTickets.subject,
  priority: supportTickets.priority,
  status: supportTickets.status,
  createdAt: supportTickets.createdAt,
  updatedAt: supportTickets.updatedAt,
};

const ticketStatus = z.enum(['open', 'answered', 'closed']);
const ticketPriority = z.enum(['standard', 'priority']);
const ticketRow = z.object({
  id: z.string(),
  subject: z.string(),
  priority: ticketPriority,
  status: ticketStatus,
  created_at: date,
});
const ticketOut = (r: z.output<typeof ticketRow>) => ({
  id: r.id,
  subject: r.subject,
  priority: r.priority,
  status: r.status,
  createdAt: r.created_at,
});
const replyRow = z.object({ id: z.string(), owner: z.boolean(), status: ticketStatus, created_at: date });
const statusRow = z.object({ id: z.string(), status: ticketStatus });
const priorityRow = z.object({ id: z.string(), priority: ticketPriority });

/** First key of the advisory lock that serializes one user's support.create calls. */
const OPEN_TICKETS_LOCK = 0x5375_7070;

/**
 * The ticket, its first message and the audit entry in one statement, if the caller has
 * fewer than SUPPORT_MAX_OPEN_TICKETS tickets not closed. The count is exact under
 * concurrency: the statement runs after a transaction-scoped advisory lock on the caller
 * (2 statements), so it sees every ticket a concurrent call committed.
 */
export async function createTicket(
  db: Executor,
  caller: Caller,
  ip: string,
  input: z.infer<typeof createTicketInput>,
) {
  const priority = caller.features.includes('priority_support') ? 'priority' : 'standard';
  const [row] = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${OPEN_TICKETS_LOCK}, hashtext(${caller.sub}))`);
    return queryRows(
      tx,
      ticketRow,
      sql`WITH tk AS (
            INSERT INTO support_tickets (user_id, subject, priority)
            SELECT ${caller.sub}, ${input.subject}, ${priority}
            WHERE (SELECT count(*) FROM support_tickets
                   WHERE user_id = ${caller.sub} AND status <> 'closed') < ${SUPPORT_MAX_OPEN_TICKETS}
            RETURNING id, subject, priority, status, created_at
          ), m AS (
            INSERT INTO support_messages (ticket_id, author_id, from_staff, body) SELECT id, ${caller.sub}, false, ${input.body} FROM tk
          ), a AS (
            ${auditInsert({ actorId: caller.sub, action: 'support.create', targetId: caller.sub, ip, details: sql`jsonb_build_object('ticketId', id, 'priority', priority)` }, sql`tk`)}
          )
          SELECT id, subject, priority, status, ${exactTimestamp(sql`created_at`)} AS created_at FROM tk`,
    );
  });
  if (!row)
    throw conflict(
      `You have ${SUPPORT_MAX_OPEN_TICKETS} open tickets: reply on one of them, or wait until support closes one`,
    );
  return ticketOut(row);
}

/** The caller's tickets, newest first: one SELECT. */
export async function listMyTickets(db: Executor, userId: string, input: z.infer<typeof listTicketsInput>) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const rows = await db
    .select({ ...ticketColumns, key: exactTimestamp(supportTickets.createdAt) })
    .from(supportTickets)
    .where(
      and(
        eq(supportTickets.userId, userId),
        after ? afterTimeCursor(supportTickets.createdAt, supportTickets.id, after) : undefined,
      ),
    )
    .orderBy(desc(supportTickets.createdAt), desc(supportTickets.id))
    .limit(input.limit + 1);
  return timePage(rows, input.limit);
}

/**
 * The staff queue: tickets of one status, priority first, then the oldest — one SELECT
 * on support_tickets_queue_idx. The cursor is (priority, createdAt, id).
 */
export async function ticketQueue(db: Executor, input: z.infer<typeof queueInput>) {
  const after = decodeCursor(input.cursor, ['text', 'timestamp', 'uuid']);
  const rows = await db
    .select({
      ...ticketColumns,
      userId: supportTickets.userId,
      key: exactTimestamp(supportTickets.createdAt),
    })
    .from(supportTickets)
    .where(
      and(
        eq(supportTickets.status, input.status),
        sql`${supportTickets.status} <> 'closed'`,
        after
          ? sql`(${supportTickets.priority}, ${supportTickets.createdAt}, ${supportTickets.id}) > (${after[0]}, ${after[1]}::timestamptz, ${after[2]}::uuid)`
          : undefined,
      ),
    )
    // 'priority' sorts before 'standard'.
    .orderBy(asc(supportTickets.priority), asc(supportTickets.createdAt), asc(supportTickets.id))
    .limit(input.limit + 1);
  return toPage(
    rows,
    input.limit,
    (r) => [r.priority, r.key, r.id],
    ({ key: _key, ...item }) => item,
  );
}

/** A ticket and its messages, oldest first, for its owner or staff: one SELECT. */
export async function ticketThread(db: Executor, caller: Caller, ticketId: string) {
  const rows = await db
    .select({
      ticket: { ...ticketColumns, userId: supportTickets.userId },
      message: {
        id: supportMessages.id,
        fromStaff: supportMessages.fromStaff,
        body: supportMessages.body,
        createdAt: supportMessages.createdAt,
      },
    })
    .from(supportTickets)
    .leftJoin(supportMessages, eq(supportMessages.ticketId, supportTickets.id))
    .where(eq(supportTickets.id, ticketId))
    .orderBy(asc(supportMessages.createdAt), asc(supportMessages.id));
  const ticket = rows[0]?.ticket;
  // Another user's ticket answers as if it did not exist.
  if (!ticket || (ticket.userId !== caller.sub && !isStaff(caller))) throw notFound('Ticket');
  return { ...ticket, messages: rows.flatMap((r) => (r.message ? [r.message] : [])) };
}

/**
 * A reply by the ticket's owner (the ticket goes back to 'open') or by staff ('answered').
 * One statement: the message, the ticket's status and the audit entry, only if the ticket
 * exists, is not closed, the caller may write on it and (the owner) has written fewer than
 * SUPPORT_MAX_OWNER_MESSAGES messages on it — counted on the ticket's row, which the UPDATE
 * locks and re-checks, so the limit holds under concurrency. A refused reply reads why (a
 * second statement, on refusal only).
 */
export async function replyToTicket(
  db: Executor,
  caller: Caller,
  ip: string,
  input: z.infer<typeof replyInput>,
) {
  const staff = isStaff(caller);
  const [row] = await queryRows(
    db,
    replyRow,
    sql`WITH tk AS (
          UPDATE support_tickets SET status = CASE WHEN user_id = ${caller.sub} THEN 'open' ELSE 'answered' END,
                 owner_messages = owner_messages + (user_id = ${caller.sub})::int, updated_at = now()
          WHERE id = ${input.ticketId} AND status <> 'closed' AND (user_id = ${caller.sub} OR ${staff})
            AND (user_id <> ${caller.sub} OR owner_messages < ${SUPPORT_MAX_OWNER_MESSAGES})
          RETURNING id, user_id, status
        ), m AS (
          INSERT INTO support_messages (ticket_id, author_id, from_staff, body)
          SELECT id, ${caller.sub}, user_id <> ${caller.sub}, ${input.body} FROM tk
          RETURNING id, ticket_id, created_at
        ), a AS (
          ${auditInsert({ actorId: caller.sub, action: 'support.reply', targetId: sql`tk.user_id`, ip, details: sql`jsonb_build_object('ticketId', tk.id)` }, sql`tk`)}
        )
        SELECT m.id, tk.user_id = ${caller.sub} AS owner, tk.status, ${exactTimestamp(sql`m.created_at`)} AS created_at
        FROM m JOIN tk ON tk.id = m.ticket_id`,
  );
  if (!row) {
    const [full] = await queryRows(
      db,
      z.object({ full: z.boolean() }),
      sql`SELECT owner_messages >= ${SUPPORT_MAX_OWNER_MESSAGES} AS full FROM support_tickets
          WHERE id = ${input.ticketId} AND user_id = ${caller.sub} AND status <> 'closed'`,
    );
    if (full?.full)
      throw conflict(
        `This ticket has ${SUPPORT_MAX_OWNER_MESSAGES} of your messages: wait for support's answer, or open a new ticket`,
      );
    throw notFound('Open ticket');
  }
  return {
    id: row.id,
    ticketId: input.ticketId,
    status: row.status,
    fromStaff: !row.owner,
    createdAt: row.created_at,
  };
}

/** Staff set a ticket's status: one statement with its audit entry. */
export async function setTicketStatus(
  db: Executor,
  staffId: string,
  ip: string,
  input: z.infer<typeof setStatusInput>,
) {
  const [row] = await queryRows(
    db,
    statusRow,
    sql`WITH tk AS (
          UPDATE support_tickets SET status = ${input.status}, updated_at = now() WHERE id = ${input.ticketId}
          RETURNING id, user_id, status
        ), a AS (
          ${auditInsert({ actorId: staffId, action: 'support.setStatus', targetId: sql`user_id`, ip, details: sql`jsonb_build_object('ticketId', id, 'status', status)` }, sql`tk`)}
        )
        SELECT id, status FROM tk`,
  );
  if (!row) throw notFound('Ticket');
  return row;
}

/**
 * priority_support: the owner lifts a standard ticket (e.g. opened before upgrading) to
 * priority. One statement with its audit entry; the plan check is the token's (zero queries).
 */
export async function escalateTicket(db: Executor, userId: string, ip: string, ticketId: string) {
  const [row] = await queryRows(
    db,
    priorityRow,
    sql`WITH tk AS (
          UPDATE support_tickets SET priority = 'priority', updated_at = now()
          WHERE id = ${ticketId} AND user_id = ${userId} AND status <> 'closed'
          RETURNING id, priority
        ), a AS (
          ${auditInsert({ actorId: userId, action: 'support.escalate', targetId: userId, ip, details: sql`jsonb_build_object('ticketId', id)` }, sql`tk`)}
        )
        SELECT id, priority FROM tk`,
  );
  if (!row) throw notFound('Open ticket');
  return row;
}
