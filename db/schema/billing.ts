// Payments for plans: the orders created with the payment provider (Razorpay Orders API)
// and the webhook events already processed (their ids make a replayed event harmless).
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { plans } from './rbac.ts';
import { users } from './users.ts';

const tstz = () => timestamp({ withTimezone: true, mode: 'date' });

/**
 * One checkout: the plan bought and its price when the order was made. Kept after the
 * buyer's erasure (financial records; no personal data here beyond the pseudonymous user id).
 */
export const paymentOrders = pgTable(
  'payment_orders',
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    planId: smallint()
      .notNull()
      .references(() => plans.id),
    amountPaise: integer().notNull(),
    currency: text().notNull().default('INR'),
    providerOrderId: text().notNull().unique(),
    // created → paid. A paid order is applied to the subscription unless it would lower the
    // plan in effect (a stale order): then the audit says subscriptions.paymentUnapplied.
    // created | paid → refunded (a full refund) or disputed (a chargeback): the period it
    // paid for is taken back at once, and a capture arriving later is not applied.
    status: text({ enum: ['created', 'paid', 'refunded', 'disputed'] })
      .notNull()
      .default('created'),
    providerPaymentId: text(),
    createdAt: tstz().notNull().defaultNow(),
    paidAt: tstz(),
    /** When a refund or dispute reversed the order (status refunded or disputed). */
    reversedAt: tstz(),
  },
  (t) => [
    index('payment_orders_user_created_idx').on(t.userId, t.createdAt),
    // A refund event may name the payment only (payload.refund.entity.payment_id).
    index('payment_orders_payment_idx')
      .on(t.providerPaymentId)
      .where(sql`${t.providerPaymentId} IS NOT NULL`),
    check('payment_orders_amount_positive', sql`${t.amountPaise} > 0`),
    check('payment_orders_status_valid', sql`${t.status} IN ('created', 'paid', 'refunded', 'disputed')`),
  ],
);

/** Webhook events processed, by the provider's event id (x-razorpay-event-id). */
export const paymentEvents = pgTable('payment_events', {
  eventId: text().primaryKey(),
  event: text().notNull(),
  providerOrderId: text(),
  receivedAt: tstz().notNull().defaultNow(),
});
