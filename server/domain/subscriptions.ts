// subscriptions.*: the plan catalog, the caller's subscription, and subscriptions that
// live on their own (docs/decisions/subscriptions-and-payments.md):
// a checkout creates an order with the payment provider; the plan changes only when a
// verified payment webhook says the order was paid; a period ends by itself (the expiry
// job), and claims change at once through the existing revocation (tokens_valid_after).
//
// Rules: a paid period lasts PERIOD_DAYS. Paying for a higher plan than the one in effect
// switches now and starts a new period (no proration); paying for the same plan extends
// the period from its end; a checkout for a lower plan is refused while a paid period
// runs (cancel, then buy the cheaper plan once the period has ended). Every change is audited.
import { asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Executor, queryRows } from '../../db/client.ts';
import { prepared } from '../../db/prepared.ts';
import { date } from '../../db/row.ts';
import { features, planFeatures, plans, subscriptions } from '../../db/schema/index.ts';
import type { AuditAction } from '../../shared/audit.ts';
import { auditInsert } from '../audit.ts';
import { subscriptionInEffect } from '../auth/claims.ts';
import { bumpedRow, bumpTokensOf, type RevocationList, userRevocation } from '../auth/revocation.ts';
import { addressedTo, queueEmail } from '../email/outbox.ts';
import { emailTime } from '../email/templates.ts';
import {
  DISPUTE_EVENTS,
  type PaymentProvider,
  PaymentProviderError,
  REFUND_EVENTS,
  type WebhookEvent,
} from '../payments/razorpay.ts';
import type { AppDeps } from '../services.ts';
import { badRequest, conflict, notFound, preconditionFailed, unavailable } from './errors.ts';

/** The four plans with their features, cheapest first. One query, prepared (public and hot). */
const planCatalog = (db: Db) =>
  db
    .select({
      code: plans.code,
      name: plans.name,
      pricePaise: plans.pricePaise,
      features: sql<
        string[]
      >`coalesce(array_agg(${features.code} ORDER BY ${features.code}) FILTER (WHERE ${features.code} IS NOT NULL), '{}')`,
    })
    .from(plans)
    .leftJoin(planFeatures, eq(planFeatures.planId, plans.id))
    .leftJoin(features, eq(features.id, planFeatures.featureId))
    .groupBy(plans.id)
    .orderBy(asc(plans.tier))
    .prepare('plan_catalog');

export function listPlans(db: Db) {
  return prepared(db, 'plan_catalog', planCatalog).execute();
}

/**
 * The caller's subscription. `plan` is the plan in effect: the subscribed plan while the
 * subscription is active and its period has not ended, else 'free' (as in the token);
 * `status` is 'expired' once the period has ended (also before the expiry job marks it),
 * 'none' for a user who never subscribed (the free plan every account starts on, or was put
 * back on by an admin). One query.
 */
export async function currentSubscription(db: Db, userId: string) {
  const ended = sql`${subscriptions.currentPeriodEnd} IS NOT NULL AND ${subscriptions.currentPeriodEnd} <= now()`;
  const [row] = await db
    .select({
      plan: sql<string>`CASE WHEN ${subscriptions.status} = 'active' AND NOT (${ended}) THEN ${plans.code} ELSE 'free' END`,
      // Every account has a row from registration on, on the free plan: that is no subscription.
      status: sql<'none' | 'active' | 'cancelled' | 'past_due' | 'expired'>`CASE
        WHEN ${plans.code} = 'free' THEN 'none'
        WHEN ${subscriptions.status} = 'active' AND ${ended} THEN 'expired'
        ELSE ${subscriptions.status} END`,
      currentPeriodEnd: subscriptions.currentPeriodEnd,
      cancelAtPeriodEnd: subscriptions.cancelAtPeriodEnd,
    })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .where(eq(subscriptions.userId, userId));
  return row ?? { plan: 'free', status: 'none' as const, currentPeriodEnd: null, cancelAtPeriodEnd: false };
}

export const PERIOD_DAYS = 30;
const period = sql`make_interval(days => ${PERIOD_DAYS})`;

export interface Checkout {
  /** The provider's order id, for the client's Checkout. */
  orderId: string;
  /** The provider's public key id, for the client's Checkout. */
  keyId: string;
  plan: string;
  amountPaise: number;
  currency: 'INR';
}

const checkoutRow = z.object({
  plan_id: z.number(),
  price_paise: z.number(),
  tier: z.number(),
  current_tier: z.number().nullable(),
  same_plan: z.boolean().nullable(),
  in_effect: z.boolean(),
  period_end: date.nullable(),
});
const periodEndRow = z.object({ current_period_end: date });
const webhookRow = z.object({
  fresh: z.boolean(),
  paid: z.boolean(),
  applied: z.boolean(),
  user_id: z.string().nullable(),
  tva: z.number().nullable(),
  period_end: date.nullable(),
  /** The order's owner and plan (for the receipt or the failed-payment notice). */
  recipient: z
    .object({ email: z.string(), name: z.string(), language: z.string().nullable(), plan: z.string() })
    .nullable(),
});

/**
 * subscriptions.checkout: 2 statements (the plan and the caller's subscription; the order
 * and its audit entry) around one call to the provider. Nothing changes until the webhook.
 */
export async function checkout(
  deps: Pick<AppDeps, 'db'> & { payments: PaymentProvider | undefined },
  userId: string,
  planCode: string,
  ip: string,
): Promise<Checkout> {
  const payments = deps.payments;
  if (!payments) throw preconditionFailed('Payments are not enabled on this server');
  const [row] = await queryRows(
    deps.db,
    checkoutRow,
    sql`SELECT p.id AS plan_id, p.price_paise, p.tier, cur.tier AS current_tier, s.plan_id = p.id AS same_plan,
               coalesce(${subscriptionInEffect(sql`s`)}, false) AS in_effect, s.current_period_end AS period_end
        FROM plans p
        LEFT JOIN subscriptions s ON s.user_id = ${userId}
        LEFT JOIN plans cur ON cur.id = s.plan_id
        WHERE p.code = ${planCode}`,
  );
  if (!row) throw notFound('Plan');
  if (row.price_paise <= 0)
    throw badRequest('The free plan needs no payment; cancel the paid plan to return to it');
  if (row.in_effect && row.current_tier !== null) {
    if (row.tier < row.current_tier)
      throw conflict(
        'A lower plan can be bought once the current period ends: cancel now, and check out again after it',
      );
    if (row.same_plan && row.period_end === null) throw conflict('Your plan does not expire');
  }
  let order: Awaited<ReturnType<PaymentProvider['createOrder']>>;
  try {
    order = await payments.createOrder({
      amountPaise: row.price_paise,
      currency: 'INR',
      receipt: `sub_${userId.replaceAll('-', '').slice(0, 32)}`,
      notes: { plan: planCode },
    });
  } catch (err) {
    if (err instanceof PaymentProviderError)
      throw unavailable('The payment provider is unavailable; retry shortly', err);
    throw err;
  }
  if (order.amount !== row.price_paise || order.currency !== 'INR')
    throw new Error('the payment provider answered an order for another amount');
  await deps.db.execute(
    sql`WITH o AS (
          INSERT INTO payment_orders (user_id, plan_id, amount_paise, currency, provider_order_id)
          VALUES (${userId}, ${row.plan_id}, ${row.price_paise}, 'INR', ${order.id})
        )
        ${auditInsert({
          actorId: userId,
          action: 'subscriptions.checkout',
          targetId: userId,
          ip,
          details: { plan: planCode, orderId: order.id, amountPaise: row.price_paise },
        })}`,
  );
  return {
    orderId: order.id,
    keyId: payments.keyId,
    plan: planCode,
    amountPaise: row.price_paise,
    currency: 'INR',
  };
}

/**
 * subscriptions.cancel: the paid plan stays until the end of its period and is then not
 * renewed (the expiry job ends it). 1 statement; nothing to cancel → CONFLICT.
 */
export async function cancelAtPeriodEnd(db: Executor, userId: string, ip: string) {
  const [row] = await queryRows(
    db,
    periodEndRow,
    sql`WITH c AS (
          UPDATE subscriptions s SET cancel_at_period_end = true, updated_at = now()
          WHERE s.user_id = ${userId} AND ${subscriptionInEffect(sql`s`)} AND s.current_period_end IS NOT NULL
          RETURNING s.current_period_end
        ), audit AS (
          ${auditInsert({ actorId: userId, action: 'subscriptions.cancel', targetId: userId, ip, details: sql`jsonb_build_object('periodEnd', current_period_end)` }, sql`c`)}
        )
        SELECT current_period_end FROM c`,
  );
  if (!row) throw conflict('There is no paid period to cancel');
  return { cancelAtPeriodEnd: true as const, currentPeriodEnd: row.current_period_end };
}

export type WebhookOutcome = 'applied' | 'unapplied' | 'duplicate' | 'recorded' | 'reversed';

/**
 * Applies one verified webhook event, in ONE statement, idempotently: the event id is
 * recorded first (a replay matches nothing after it), an order moves created → paid at
 * most once (order.paid and payment.captured for the same payment: the second changes
 * nothing), and the subscription update re-checks the locked row, so events in any order
 * and concurrent ones converge. In the same transaction, the owner's receipt (a payment
 * applied) or failed-payment notice is queued (1 statement). Then the user's live tokens are
 * revoked (new claims).
 */
export async function applyWebhookEvent(
  deps: Pick<AppDeps, 'db' | 'revocations' | 'queue' | 'notes'>,
  eventId: string,
  event: WebhookEvent,
): Promise<WebhookOutcome> {
  if (isReversal(event.event)) return applyReversal(deps, eventId, event);
  const payment = event.payload?.payment?.entity;
  const orderId = payment?.order_id ?? null;
  const captured =
    (event.event === 'payment.captured' || event.event === 'order.paid') && payment?.status === 'captured';
  const effect = subscriptionInEffect(sql`s`);
  const applied: AuditAction = 'subscriptions.paymentApplied';
  const unapplied: AuditAction = 'subscriptions.paymentUnapplied';
  const failed: AuditAction = 'subscriptions.paymentFailed';
  const row = await deps.db.transaction(async (tx) => {
    const [r] = await queryRows(
      tx,
      webhookRow,
      sql`WITH ev AS (
          INSERT INTO payment_events (event_id, event, provider_order_id)
          VALUES (${eventId}, ${event.event}, ${orderId})
          ON CONFLICT (event_id) DO NOTHING RETURNING event_id
        ), paid AS (
          UPDATE payment_orders o SET status = 'paid', paid_at = now(), provider_payment_id = ${payment?.id ?? null}
          WHERE ${captured} AND o.provider_order_id = ${orderId} AND o.status = 'created'
            AND o.amount_paise = ${payment?.amount ?? -1} AND o.currency = ${payment?.currency ?? ''}
            AND EXISTS (SELECT 1 FROM ev)
          RETURNING o.user_id, o.plan_id
        ), applied AS (
          INSERT INTO subscriptions AS s (user_id, plan_id, status, current_period_end)
          SELECT user_id, plan_id, 'active', now() + ${period} FROM paid
          ON CONFLICT (user_id) DO UPDATE SET
            plan_id = excluded.plan_id, status = 'active', cancel_at_period_end = false, updated_at = now(),
            current_period_end = CASE
              WHEN s.plan_id = excluded.plan_id AND ${effect} THEN s.current_period_end + ${period}
              ELSE now() + ${period} END
          WHERE NOT (${effect})
             OR (SELECT tier FROM plans WHERE id = excluded.plan_id) > (SELECT tier FROM plans WHERE id = s.plan_id)
             OR (s.plan_id = excluded.plan_id AND s.current_period_end IS NOT NULL)
          RETURNING s.user_id, s.current_period_end
        ), bumped AS (${bumpTokensOf(sql`SELECT user_id FROM applied`)}),
        audit AS (${auditInsert(
          { actorId: null, action: sql`e.action`, targetId: sql`e.user_id`, details: sql`e.details` },
          sql`(
            SELECT CASE WHEN EXISTS (SELECT 1 FROM applied) THEN ${applied}::text ELSE ${unapplied}::text END,
                   p.user_id,
                   jsonb_build_object('plan', pl.code, 'orderId', ${orderId}::text, 'eventId', ${eventId}::text,
                                      'event', ${event.event}::text,
                                      'periodEnd', (SELECT current_period_end FROM applied))
            FROM paid p JOIN plans pl ON pl.id = p.plan_id
            UNION ALL
            SELECT ${failed}::text, o.user_id,
                   jsonb_build_object('orderId', o.provider_order_id, 'eventId', ${eventId}::text)
            FROM payment_orders o
            WHERE ${event.event === 'payment.failed'} AND o.provider_order_id = ${orderId} AND EXISTS (SELECT 1 FROM ev)
            UNION ALL
            SELECT ${unapplied}::text, o.user_id,
                   jsonb_build_object('orderId', o.provider_order_id, 'eventId', ${eventId}::text,
                                      'event', ${event.event}::text, 'reversed', o.status)
            FROM payment_orders o
            WHERE ${captured} AND o.provider_order_id = ${orderId} AND o.status IN ('refunded', 'disputed')
              AND EXISTS (SELECT 1 FROM ev)
          ) e(action, user_id, details)`,
        )})
        SELECT EXISTS (SELECT 1 FROM ev) AS fresh, EXISTS (SELECT 1 FROM paid) AS paid,
               EXISTS (SELECT 1 FROM applied) AS applied,
               (SELECT id FROM bumped) AS user_id, (SELECT tva FROM bumped) AS tva,
               (SELECT current_period_end FROM applied) AS period_end,
               (SELECT jsonb_build_object('email', u.email, 'name', u.name, 'language', u.language, 'plan', pl.name)
                FROM payment_orders o JOIN users u ON u.id = o.user_id AND u.deleted_at IS NULL
                JOIN plans pl ON pl.id = o.plan_id
                WHERE o.provider_order_id = ${orderId}) AS recipient`,
    );
    // What the owner is told, in the same transaction: a receipt for a payment that took
    // effect, a notice for a failed one (each event once: a replay is not fresh).
    const to = r?.fresh ? r.recipient : null;
    if (to && r?.applied && payment)
      await queueEmail(deps, tx, {
        template: 'paymentReceipt',
        ...addressedTo(to),
        vars: {
          name: to.name,
          plan: to.plan,
          amount: formatAmount(payment.amount ?? 0, payment.currency ?? 'INR'),
          paymentId: payment.id ?? '',
          periodEnd: r.period_end ? emailTime(r.period_end) : '',
        },
      });
    else if (to && event.event === 'payment.failed')
      await queueEmail(deps, tx, {
        template: 'paymentFailed',
        ...addressedTo(to),
        vars: { name: to.name, plan: to.plan, paymentId: payment?.id ?? '' },
      });
    return r;
  });
  if (!row?.fresh) return 'duplicate';
  if (!row.paid) return 'recorded';
  if (!row.applied) return 'unapplied';
  if (row.user_id && row.tva !== null) await deps.revocations.announce(userRevocation(row.user_id, row.tva));
  return 'applied';
}

const reversalRow = z.object({
  fresh: z.boolean(),
  reversed: z.boolean(),
  user_id: z.string().nullable(),
  tva: z.number().nullable(),
});

const isReversal = (name: string) =>
  (REFUND_EVENTS as readonly string[]).includes(name) || (DISPUTE_EVENTS as readonly string[]).includes(name);

/**
 * A refund or dispute (Razorpay's refund.created, refund.processed, payment.refunded,
 * payment.dispute.created) of an order's payment: a dispute, or a refund that brings the
 * amount refunded to the order's amount, reverses the order (created | paid → refunded |
 * disputed) and takes back the period it paid for: the subscription on the order's plan
 * ends PERIOD_DAYS earlier, at once 'expired' (claims fall to free, live tokens revoked)
 * when that end has passed. A capture that arrives after the reversal is not applied
 * (applyWebhookEvent's capture needs an order still 'created'). A partial refund is only
 * recorded. Idempotent twice over: the event id is recorded first, and an order is reversed
 * once (refund.created, refund.processed and payment.refunded of one refund: the first
 * reverses, the others find it reversed). Two statements in one transaction: the order row
 * is locked first, so a capture committing meanwhile is seen by the second statement.
 */
async function applyReversal(
  deps: Pick<AppDeps, 'db' | 'revocations' | 'queue' | 'notes'>,
  eventId: string,
  event: WebhookEvent,
): Promise<WebhookOutcome> {
  const payment = event.payload?.payment?.entity;
  const refund = event.payload?.refund?.entity;
  const dispute = event.payload?.dispute?.entity;
  const orderId = payment?.order_id ?? null;
  const paymentId = payment?.id ?? refund?.payment_id ?? dispute?.payment_id ?? null;
  const disputed = (DISPUTE_EVENTS as readonly string[]).includes(event.event);
  const refunded = Math.max(payment?.amount_refunded ?? 0, refund?.amount ?? 0);
  const fullyRefunded = sql`(${payment?.status === 'refunded'} OR o.amount_paise <= ${refunded})`;
  const reverses = disputed ? sql`true` : fullyRefunded;
  const status = disputed ? 'disputed' : 'refunded';
  const action: AuditAction = disputed ? 'subscriptions.paymentDisputed' : 'subscriptions.paymentRefunded';
  const theOrder = sql`(o.provider_order_id = ${orderId} OR o.provider_payment_id = ${paymentId})`;
  const row = await deps.db.transaction(async (tx) => {
    await tx.execute(sql`SELECT 1 FROM payment_orders o WHERE ${theOrder} FOR UPDATE`);
    const [r] = await queryRows(
      tx,
      reversalRow,
      sql`WITH ev AS (
            INSERT INTO payment_events (event_id, event, provider_order_id)
            VALUES (${eventId}, ${event.event}, ${orderId})
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id
          ), before AS (
            SELECT o.id, o.status FROM payment_orders o WHERE ${theOrder}
          ), rev AS (
            UPDATE payment_orders o SET status = ${status}, reversed_at = now(),
                   provider_payment_id = coalesce(o.provider_payment_id, ${paymentId})
            WHERE ${theOrder} AND o.status IN ('created', 'paid') AND ${reverses} AND EXISTS (SELECT 1 FROM ev)
            RETURNING o.id, o.user_id, o.plan_id, o.provider_order_id
          ), taken AS (
            UPDATE subscriptions s SET
              current_period_end = s.current_period_end - ${period},
              status = CASE WHEN s.current_period_end - ${period} <= now() THEN 'expired' ELSE s.status END,
              cancel_at_period_end = s.cancel_at_period_end AND s.current_period_end - ${period} > now(),
              updated_at = now()
            FROM rev r JOIN before b ON b.id = r.id AND b.status = 'paid'
            WHERE s.user_id = r.user_id AND s.plan_id = r.plan_id AND s.current_period_end IS NOT NULL
              AND ${subscriptionInEffect(sql`s`)}
            RETURNING s.user_id, s.status, s.current_period_end
          ), bumped AS (${bumpTokensOf(sql`SELECT user_id FROM taken WHERE status = 'expired'`)}),
          audit AS (${auditInsert(
            {
              actorId: null,
              action,
              targetId: sql`r.user_id`,
              details: sql`jsonb_build_object('plan', pl.code, 'orderId', r.provider_order_id, 'paymentId', ${paymentId}::text,
                             'eventId', ${eventId}::text, 'event', ${event.event}::text, 'wasPaid', b.status = 'paid',
                             'periodEnd', (SELECT current_period_end FROM taken), 'status', (SELECT status FROM taken))`,
            },
            sql`rev r JOIN before b ON b.id = r.id JOIN plans pl ON pl.id = r.plan_id`,
          )})
          SELECT EXISTS (SELECT 1 FROM ev) AS fresh, EXISTS (SELECT 1 FROM rev) AS reversed,
                 (SELECT id FROM bumped) AS user_id, (SELECT tva FROM bumped) AS tva`,
    );
    return r;
  });
  if (!row?.fresh) return 'duplicate';
  if (!row.reversed) return 'recorded';
  if (row.user_id && row.tva !== null) await deps.revocations.announce(userRevocation(row.user_id, row.tva));
  return 'reversed';
}

/**
 * The expiry job's work: every active subscription whose period has ended becomes
 * 'expired' (claims fall back to free), its user's live tokens are revoked, and each
 * expiry is audited. One statement per batch of 1,000; returns how many expired.
 */
export async function expireSubscriptions(
  tx: Executor,
  revocations: RevocationList,
): Promise<{ expired: number }> {
  let expired = 0;
  for (;;) {
    const rows = await queryRows(
      tx,
      bumpedRow,
      sql`WITH due AS (
            SELECT id FROM subscriptions
            WHERE status = 'active' AND current_period_end IS NOT NULL AND current_period_end <= now()
            ORDER BY current_period_end LIMIT 1000 FOR UPDATE SKIP LOCKED
          ), ended AS (
            UPDATE subscriptions s SET status = 'expired', cancel_at_period_end = false, updated_at = now()
            FROM due WHERE s.id = due.id
            RETURNING s.user_id, s.plan_id, s.current_period_end
          ), bumped AS (${bumpTokensOf(sql`SELECT user_id FROM ended`)}),
          audit AS (
            ${auditInsert(
              {
                actorId: null,
                action: 'subscriptions.expired',
                targetId: sql`e.user_id`,
                details: sql`jsonb_build_object('plan', pl.code, 'periodEnd', e.current_period_end)`,
              },
              sql`ended e JOIN plans pl ON pl.id = e.plan_id`,
            )}
          )
          SELECT id, tva FROM bumped`,
    );
    if (rows.length > 0) await revocations.announce(...rows.map((r) => userRevocation(r.id, r.tva)));
    expired += rows.length;
    if (rows.length < 1000) return { expired };
  }
}

/** An amount in the currency's minor unit (paise) as a receipt writes it: ₹1,499.00. */
function formatAmount(minor: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en-IN', { style: 'currency', currency }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`; // a currency code Intl does not know
  }
}
