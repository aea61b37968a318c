// Support tickets and their messages (support.*). A ticket's priority is set from the
// creator's plan features when it is opened (priority_support → 'priority'), may be raised
// later by support.escalate, and falls to 'standard' when the owner's plan stops giving
// priority_support (a trigger on subscriptions, migration 0035); staff work the open tickets
// priority first.
import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { tstz } from './columns.ts';
import { users } from './users.ts';

export const supportTickets = pgTable(
  'support_tickets',
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    subject: text().notNull(),
    priority: text({ enum: ['standard', 'priority'] })
      .notNull()
      .default('standard'),
    status: text({ enum: ['open', 'answered', 'closed'] })
      .notNull()
      .default('open'),
    /** The owner's messages on the ticket (a reply past SUPPORT_MAX_OWNER_MESSAGES is refused). */
    ownerMessages: integer().notNull().default(1),
    createdAt: tstz().notNull().defaultNow(),
    updatedAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    index('support_tickets_user_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    // The staff queue: tickets of one status, priority first ('priority' sorts before
    // 'standard'), oldest first.
    index('support_tickets_queue_idx')
      .on(t.status, t.priority, t.createdAt, t.id)
      .where(sql`${t.status} <> 'closed'`),
    check('support_tickets_priority_valid', sql`${t.priority} IN ('standard', 'priority')`),
    check('support_tickets_status_valid', sql`${t.status} IN ('open', 'answered', 'closed')`),
    check('support_tickets_subject_length', sql`length(${t.subject}) BETWEEN 1 AND 200`),
  ],
);

export const supportMessages = pgTable(
  'support_messages',
  {
    id: uuid().primaryKey().defaultRandom(),
    ticketId: uuid()
      .notNull()
      .references(() => supportTickets.id, { onDelete: 'cascade' }),
    authorId: uuid().references(() => users.id, { onDelete: 'set null' }),
    /** Written by staff (support.manage), not by the ticket's owner. */
    fromStaff: boolean().notNull(),
    body: text().notNull(),
    createdAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    index('support_messages_ticket_idx').on(t.ticketId, t.createdAt, t.id),
    check('support_messages_body_length', sql`length(${t.body}) BETWEEN 1 AND 5000`),
  ],
);
