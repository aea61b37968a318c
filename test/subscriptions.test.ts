// Subscriptions that live on their own, end to end over HTTP against a local Razorpay
// double (nothing reaches outside): checkout → order in paise at the provider → signed
// webhook → the plan is active and a new token carries its features; bad signatures,
// replays and reordered events change nothing more; cancel, upgrade, the downgrade rule;
// a period that ends expires by itself (claims fall back to free before the job runs, and
// the job revokes live tokens at once). Query counts of the new procedures.
import { TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countQueries, queryRows } from '../db/client.ts';
import { countRow, date, num } from '../db/row.ts';
import { RAZORPAY_WEBHOOK_PATH } from '../server/http/webhooks.ts';
import { JobRunner, subscriptionExpiryJob } from '../server/jobs/index.ts';
import { createUser } from './fixtures/domain.ts';
import { callerFor, DB_KINDS, NOTICE } from './helpers.ts';
import { type Delivery, RazorpayDouble } from './razorpay-double.ts';
import { registerUser, startTestServer, type TestServer } from './server.ts';

const PASSWORD = 'correct horse battery';
const NO_THERAPIST = '00000000-0000-4000-8000-000000000000';
let seq = 0;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TRPCClientError) return (err.data as { code: string }).code;
    throw err;
  }
  return 'OK';
}

describe.each(DB_KINDS)('subscriptions with payments on %s (HTTP, Razorpay double)', (kind) => {
  let rzp: RazorpayDouble;
  let server: TestServer;
  let webhook: string;

  beforeAll(async () => {
    rzp = await new RazorpayDouble().start();
    server = await startTestServer({ kind, env: rzp.env });
    webhook = `${server.url}${RAZORPAY_WEBHOOK_PATH}`;
  });
  afterAll(async () => {
    await server?.close();
    await rzp?.close();
  });

  /** A patient registered over HTTP, whose access token follows refreshes. */
  async function patient() {
    const reg = await registerUser(server, {
      email: `pay${seq++}.${Date.now().toString(36)}@example.com`,
      password: PASSWORD,
      name: 'Payer',
      acceptPrivacyNotice: NOTICE,
    });
    // A confirmed address (checkout needs one: test/account-email.test.ts tests the link).
    await server.deps.db.execute(sql`UPDATE users SET email_verified_at = now() WHERE id = ${reg.user.id}`);
    const verified = await server.client().auth.refresh.mutate({ refreshToken: reg.refreshToken });
    const session = { id: reg.user.id, access: verified.accessToken, refresh: verified.refreshToken };
    const api = server.client(() => session.access);
    return {
      ...session,
      session,
      api,
      /** Rotates the refresh token: the new access token carries the claims read now. */
      async refresh() {
        const pair = await server.client().auth.refresh.mutate({ refreshToken: session.refresh });
        session.access = pair.accessToken;
        session.refresh = pair.refreshToken;
        return api.auth.me.query();
      },
    };
  }

  const deliver = (d: Delivery, headers?: Record<string, string>) => rzp.deliver(webhook, d, headers);
  const periodEnd = async (userId: string) => {
    const [row] = await queryRows(
      server.deps.db,
      z.object({ end: date.nullable(), status: z.string(), plan: z.string() }),
      sql`SELECT s.current_period_end AS end, s.status, p.code AS plan
          FROM subscriptions s JOIN plans p ON p.id = s.plan_id WHERE s.user_id = ${userId}`,
    );
    return row!;
  };
  const auditCount = async (userId: string, action: string) => {
    const [row] = await queryRows(
      server.deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM audit_log WHERE target_id = ${userId} AND action = ${action}`,
    );
    return row!.n;
  };
  const days = (ms: number) => ms / 86_400_000;

  it('checkout → signed webhook → the plan is active and a new token has its features', async () => {
    const p = await patient();
    expect(await codeOf(p.api.therapy.book.mutate({ therapistId: NO_THERAPIST, startsAt: new Date() }))).toBe(
      'FORBIDDEN',
    );
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    expect(order).toMatchObject({ plan: 'basic', amountPaise: 49_900, currency: 'INR', keyId: rzp.keyId });
    // The order exists at the provider, in paise, made with our key pair.
    expect(rzp.orders.get(order.orderId)).toMatchObject({
      amount: 49_900,
      currency: 'INR',
      status: 'created',
    });
    expect(rzp.unauthorized).toBe(0);
    // Nothing changes before the payment: a user who never subscribed has no subscription.
    expect(await p.api.subscriptions.current.query()).toEqual({
      plan: 'free',
      status: 'none',
      currentPeriodEnd: null,
      cancelAtPeriodEnd: false,
    });

    const { captured } = rzp.pay(order.orderId);
    const res = await deliver(captured);
    expect(res.status).toBe(200);
    // The old token died at once (its claims said free) ...
    expect(await codeOf(p.api.auth.me.query())).toBe('UNAUTHORIZED');
    // ... and the refreshed one carries Basic's features.
    const me = await p.refresh();
    expect(me.plan).toBe('basic');
    expect(me.features).toContain('therapist_booking');
    expect(await codeOf(p.api.therapy.book.mutate({ therapistId: NO_THERAPIST, startsAt: new Date() }))).toBe(
      'BAD_REQUEST',
    );
    const current = await p.api.subscriptions.current.query();
    expect(current).toMatchObject({ plan: 'basic', status: 'active', cancelAtPeriodEnd: false });
    expect(days(current.currentPeriodEnd!.getTime() - Date.now())).toBeCloseTo(30, 1);
    expect(await auditCount(p.id, 'subscriptions.checkout')).toBe(1);
    expect(await auditCount(p.id, 'subscriptions.paymentApplied')).toBe(1);
  });

  it('refuses a bad signature with 400 and changes nothing', async () => {
    const p = await patient();
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'premium' });
    const { captured } = rzp.pay(order.orderId);
    const [before] = await queryRows(
      server.deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM payment_events`,
    );
    const forged = [
      { ...captured, signature: rzp.sign(captured.body, 'not the webhook secret').signature },
      { ...captured, body: captured.body.replace('"captured"', '"captured" ') }, // bytes changed
      // One hex digit changed.
      { ...captured, signature: captured.signature.replace(/./, (c) => (c === '0' ? '1' : '0')) },
      // The right signature in upper case: Razorpay sends lower-case hex, nothing else is its.
      { ...captured, signature: captured.signature.toUpperCase() },
      { ...captured, signature: '' },
    ];
    for (const d of forged) expect((await deliver(d)).status).toBe(400);
    expect((await deliver(captured, { 'x-razorpay-signature': 'abc' })).status).toBe(400);
    const [after] = await queryRows(
      server.deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM payment_events`,
    );
    expect(after!.n).toBe(before!.n);
    expect(await periodEnd(p.id)).toMatchObject({ plan: 'free', end: null });
    expect(await p.api.auth.me.query()).toMatchObject({ plan: 'free' });
    const [o] = await queryRows(
      server.deps.db,
      z.object({ status: z.string() }),
      sql`SELECT status FROM payment_orders WHERE provider_order_id = ${order.orderId}`,
    );
    expect(o!.status).toBe('created');
    // The genuine delivery still works afterwards.
    expect((await deliver(captured)).status).toBe(200);
    expect(await periodEnd(p.id)).toMatchObject({ plan: 'premium', status: 'active' });
  });

  it('a replayed event and the second event of the same payment have no effect', async () => {
    const p = await patient();
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const { captured, orderPaid } = rzp.pay(order.orderId);
    expect((await deliver(captured)).status).toBe(200);
    const first = await periodEnd(p.id);
    await p.refresh();
    const results = await Promise.all([deliver(captured), deliver(captured), deliver(orderPaid)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await periodEnd(p.id)).toEqual(first);
    expect(await auditCount(p.id, 'subscriptions.paymentApplied')).toBe(1);
    // No revocation either: the token issued after the first delivery still works.
    expect(await p.api.auth.me.query()).toMatchObject({ plan: 'basic' });
  });

  it('a replayed payment.failed is recorded once (one audit row), however often it comes', async () => {
    const p = await patient();
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const failed = rzp.fail(order.orderId);
    expect((await deliver(failed)).status).toBe(200);
    const replays = await Promise.all([deliver(failed), deliver(failed)]);
    expect(replays.map((r) => r.status)).toEqual([200, 200]);
    expect((await deliver(failed)).status).toBe(200);
    expect(await auditCount(p.id, 'subscriptions.paymentFailed')).toBe(1);
    expect(await periodEnd(p.id)).toMatchObject({ plan: 'free', end: null });
  });

  it('reordered events converge: two renewals in either order, a failure after the capture', async () => {
    const p = await patient();
    const a = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const b = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const paidA = rzp.pay(a.orderId);
    const failedA = rzp.fail(a.orderId);
    const paidB = rzp.pay(b.orderId);
    // Razorpay's order: failed attempt, capture A, capture B. Delivered: B's order.paid, A's
    // capture, the stale failure of A, then the rest.
    for (const d of [paidB.orderPaid, paidA.captured, failedA, paidB.captured, paidA.orderPaid])
      expect((await deliver(d)).status).toBe(200);
    const sub = await periodEnd(p.id);
    expect(sub).toMatchObject({ plan: 'basic', status: 'active' });
    expect(days(new Date(sub.end!).getTime() - Date.now())).toBeCloseTo(60, 1);
    expect(await auditCount(p.id, 'subscriptions.paymentApplied')).toBe(2);
    expect(await auditCount(p.id, 'subscriptions.paymentFailed')).toBe(1);
  });

  it('upgrades at once, refuses a downgrade while the period runs, cancels at period end', async () => {
    const p = await patient();
    const basic = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    await deliver(rzp.pay(basic.orderId).captured);
    await p.refresh();
    const premium = await p.api.subscriptions.checkout.mutate({ planCode: 'premium' });
    await deliver(rzp.pay(premium.orderId).orderPaid);
    expect((await p.refresh()).features).toContain('premium_dashboard');
    expect(await codeOf(p.api.subscriptions.checkout.mutate({ planCode: 'basic' }))).toBe('CONFLICT');
    expect(await codeOf(p.api.subscriptions.checkout.mutate({ planCode: 'free' }))).toBe('BAD_REQUEST');
    expect(await codeOf(p.api.subscriptions.checkout.mutate({ planCode: 'gold' as never }))).toBe(
      'BAD_REQUEST',
    );

    const cancelled = await p.api.subscriptions.cancel.mutate();
    expect(cancelled.cancelAtPeriodEnd).toBe(true);
    // The plan stays until the period ends; the token is untouched.
    expect(await p.api.subscriptions.current.query()).toMatchObject({
      plan: 'premium',
      status: 'active',
      cancelAtPeriodEnd: true,
    });
    expect(await p.api.auth.me.query()).toMatchObject({ plan: 'premium' });
    expect(await auditCount(p.id, 'subscriptions.cancel')).toBe(1);
    // A stale lower-plan order paid late is recorded, not applied.
    const [stale] = await queryRows(
      server.deps.db,
      z.object({ id: num }),
      sql`SELECT id FROM plans WHERE code = 'basic'`,
    );
    await server.deps.db.execute(
      sql`INSERT INTO payment_orders (user_id, plan_id, amount_paise, provider_order_id)
          VALUES (${p.id}, ${stale!.id}, 49900, 'order_StaleOrder0001')`,
    );
    rzp.orders.set('order_StaleOrder0001', {
      ...rzp.orders.get(basic.orderId)!,
      id: 'order_StaleOrder0001',
      status: 'created',
    });
    await deliver(rzp.pay('order_StaleOrder0001').captured);
    expect(await periodEnd(p.id)).toMatchObject({ plan: 'premium' });
    expect(await auditCount(p.id, 'subscriptions.paymentUnapplied')).toBe(1);
  });

  it('a free user has nothing to cancel; an amount that differs from the order is not applied', async () => {
    const p = await patient();
    expect(await codeOf(p.api.subscriptions.cancel.mutate())).toBe('CONFLICT');
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const { captured } = rzp.pay(order.orderId);
    const tampered = rzp.sign(captured.body.replaceAll('"amount":49900', '"amount":100'));
    expect((await deliver(tampered)).status).toBe(200);
    expect(await periodEnd(p.id)).toMatchObject({ plan: 'free' });
  });

  it('a period that ends: claims say free at once, the job expires it and kills live tokens', async () => {
    const p = await patient();
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    await deliver(rzp.pay(order.orderId).captured);
    await p.refresh();
    const live = p.session.access;
    const liveApi = server.client(live);
    expect(await liveApi.auth.me.query()).toMatchObject({ plan: 'basic' });
    // The period ends (time moves: the end is set one second in the past).
    await server.deps.db.execute(
      sql`UPDATE subscriptions SET current_period_end = now() - interval '1 second' WHERE user_id = ${p.id}`,
    );
    // Before the job: the subscription reads expired, a refresh gets free claims.
    expect(await p.api.subscriptions.current.query()).toMatchObject({ plan: 'free', status: 'expired' });
    const refreshed = await p.refresh();
    expect(refreshed.plan).toBe('free');
    expect(refreshed.features).not.toContain('therapist_booking');
    // The job: the token issued while the plan was in effect dies at once.
    const jobs = new JobRunner(server.deps);
    expect(await jobs.run(subscriptionExpiryJob)).toMatchObject({ outcome: 'ran', detail: { expired: 1 } });
    expect(await codeOf(liveApi.auth.me.query())).toBe('UNAUTHORIZED');
    expect(await periodEnd(p.id)).toMatchObject({ status: 'expired' });
    expect(await auditCount(p.id, 'subscriptions.expired')).toBe(1);
    expect((await jobs.run(subscriptionExpiryJob)).outcome).toBe('skipped_fresh');
    // A new checkout (with a token issued after the expiry) starts again from now.
    await p.refresh();
    const again = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    await deliver(rzp.pay(again.orderId).captured);
    expect((await p.refresh()).plan).toBe('basic');
  });

  const orderStatus = async (orderId: string) => {
    const [row] = await queryRows(
      server.deps.db,
      z.object({ status: z.string() }),
      sql`SELECT status FROM payment_orders WHERE provider_order_id = ${orderId}`,
    );
    return row!.status;
  };

  it('a full refund takes the plan back at once, once, whatever order its three events arrive in', async () => {
    const p = await patient();
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'premium' });
    await deliver(rzp.pay(order.orderId).captured);
    expect((await p.refresh()).plan).toBe('premium');
    const live = server.client(p.session.access);
    const { created, processed, paymentRefunded } = rzp.refund(order.orderId);
    expect((await deliver(processed)).status).toBe(200);
    // Claims change at once: the live token dies, a refresh says free.
    expect(await codeOf(live.auth.me.query())).toBe('UNAUTHORIZED');
    expect(await periodEnd(p.id)).toMatchObject({ plan: 'premium', status: 'expired' });
    expect(await p.refresh()).toMatchObject({ plan: 'free' });
    expect(await orderStatus(order.orderId)).toBe('refunded');
    // The other events of the same refund, and replays, change nothing more.
    const after = p.session.access;
    for (const d of [created, paymentRefunded, processed, created])
      expect((await deliver(d)).status).toBe(200);
    expect(await server.client(after).auth.me.query()).toMatchObject({ plan: 'free' });
    expect(await auditCount(p.id, 'subscriptions.paymentRefunded')).toBe(1);
    // A replayed capture of the refunded payment is not applied either.
    expect((await deliver(rzp.sign(rzp.pay(order.orderId).captured.body))).status).toBe(200);
    expect(await periodEnd(p.id)).toMatchObject({ status: 'expired' });
  });

  it('a capture that arrives after the refund of its payment is not applied (audited)', async () => {
    const p = await patient();
    const order = await p.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const { captured, orderPaid } = rzp.pay(order.orderId);
    const { paymentRefunded } = rzp.refund(order.orderId);
    expect((await deliver(paymentRefunded)).status).toBe(200);
    expect(await orderStatus(order.orderId)).toBe('refunded');
    for (const d of [captured, orderPaid]) expect((await deliver(d)).status).toBe(200);
    expect(await periodEnd(p.id)).toMatchObject({ plan: 'free' });
    expect(await p.api.auth.me.query()).toMatchObject({ plan: 'free' });
    expect(await auditCount(p.id, 'subscriptions.paymentApplied')).toBe(0);
    expect(await auditCount(p.id, 'subscriptions.paymentUnapplied')).toBe(2);
    expect(await auditCount(p.id, 'subscriptions.paymentRefunded')).toBe(1);
  });

  it('a dispute takes the plan back at once; a partial refund does not; a refund of one of two periods leaves one', async () => {
    const disputed = await patient();
    const order = await disputed.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    await deliver(rzp.pay(order.orderId).captured);
    expect((await disputed.refresh()).plan).toBe('basic');
    const dispute = rzp.dispute(order.orderId);
    expect((await deliver(dispute)).status).toBe(200);
    expect((await deliver(dispute)).status).toBe(200);
    expect(await codeOf(disputed.api.auth.me.query())).toBe('UNAUTHORIZED');
    expect(await disputed.refresh()).toMatchObject({ plan: 'free' });
    expect(await orderStatus(order.orderId)).toBe('disputed');
    expect(await auditCount(disputed.id, 'subscriptions.paymentDisputed')).toBe(1);

    const partial = await patient();
    const po = await partial.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    await deliver(rzp.pay(po.orderId).captured);
    await partial.refresh();
    expect((await deliver(rzp.refund(po.orderId, 10_000).processed)).status).toBe(200);
    expect(await partial.api.auth.me.query()).toMatchObject({ plan: 'basic' });
    expect(await orderStatus(po.orderId)).toBe('paid');
    // The rest refunded later: now in full.
    expect((await deliver(rzp.refund(po.orderId).created)).status).toBe(200);
    expect(await partial.refresh()).toMatchObject({ plan: 'free' });

    const twice = await patient();
    const a = await twice.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    const b = await twice.api.subscriptions.checkout.mutate({ planCode: 'basic' });
    await deliver(rzp.pay(a.orderId).captured);
    await deliver(rzp.pay(b.orderId).captured);
    await twice.refresh();
    await deliver(rzp.refund(b.orderId).created);
    const sub = await periodEnd(twice.id);
    expect(sub).toMatchObject({ plan: 'basic', status: 'active' });
    expect(days(new Date(sub.end!).getTime() - Date.now())).toBeCloseTo(30, 1);
    expect(await twice.api.auth.me.query()).toMatchObject({ plan: 'basic' });
  });

  it('checkout makes 2 statements, cancel 1, current 1', async () => {
    const user = await createUser(server.deps.db, { plan: 'free' });
    const caller = callerFor(server.deps, user.claims);
    const checkout = await countQueries(() => caller.subscriptions.checkout({ planCode: 'basic' }));
    expect(checkout.queries).toBe(2);
    await deliver(rzp.pay(checkout.result.orderId).captured);
    expect((await countQueries(() => caller.subscriptions.cancel())).queries).toBe(1);
    expect((await countQueries(() => caller.subscriptions.current())).queries).toBe(1);
  });
});

describe('subscriptions without payments', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('checkout answers PRECONDITION_FAILED and the webhook route does not exist', async () => {
    const user = await createUser(server.deps.db, { plan: 'free' });
    const token = (await server.deps.tokens.sign({ ...user.claims, id: user.id }, user.claims.sid)).token;
    expect(await codeOf(server.client(token).subscriptions.checkout.mutate({ planCode: 'basic' }))).toBe(
      'PRECONDITION_FAILED',
    );
    const res = await fetch(`${server.url}${RAZORPAY_WEBHOOK_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(404);
  });

  it('a past period end gives free claims at login and "expired" before any job runs', async () => {
    const user = await createUser(server.deps.db, { plan: 'premium' });
    await server.deps.db.execute(
      sql`UPDATE subscriptions SET current_period_end = now() - interval '1 minute' WHERE user_id = ${user.id}`,
    );
    const hash = await server.deps.passwords.hash(PASSWORD);
    await server.deps.db.execute(sql`UPDATE users SET password_hash = ${hash} WHERE id = ${user.id}`);
    const login = await server.client().auth.login.mutate({ email: user.email, password: PASSWORD });
    expect(login.user.plan).toBe('free');
    expect(login.user.features).not.toContain('premium_dashboard');
    expect(await server.client(login.accessToken).subscriptions.current.query()).toMatchObject({
      plan: 'free',
      status: 'expired',
    });
  });
});
