// A local stand-in for Razorpay, so payment tests never reach outside: an HTTP server with
// the Orders API (POST /v1/orders, HTTP basic auth with key id and secret, the documented
// order entity and error shapes), and webhook deliveries built and signed as Razorpay
// does: the documented event payloads (payment.captured, order.paid, payment.failed,
// refund.created, refund.processed, payment.refunded, payment.dispute.created),
// compact JSON, X-Razorpay-Signature = hex HMAC-SHA256 of those exact bytes with the
// webhook secret, and a unique x-razorpay-event-id per event.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DoubleOrder {
  id: string;
  entity: 'order';
  amount: number;
  amount_paid: number;
  amount_due: number;
  currency: string;
  receipt: string | null;
  offer_id: null;
  status: 'created' | 'attempted' | 'paid';
  attempts: number;
  notes: Record<string, string>;
  created_at: number;
}

/** One webhook delivery, exactly as it goes on the wire. */
export interface Delivery {
  eventId: string;
  body: string;
  signature: string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const razorpayId = (prefix: string) =>
  `${prefix}_${[...randomBytes(14)].map((b) => ALNUM[b % ALNUM.length]).join('')}`;
const now = () => Math.floor(Date.now() / 1000);

function error(res: ServerResponse, status: number, description: string, field?: string) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      error: {
        code: 'BAD_REQUEST_ERROR',
        description,
        source: 'business',
        step: 'payment_initiation',
        reason: 'input_validation_failed',
        metadata: {},
        ...(field ? { field } : {}),
      },
    }),
  );
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class RazorpayDouble {
  readonly keyId = `rzp_test_${randomBytes(7).toString('hex')}`;
  readonly keySecret = randomBytes(18).toString('base64url');
  readonly webhookSecret = randomBytes(18).toString('base64url');
  readonly accountId = razorpayId('acc');
  readonly orders = new Map<string, DoubleOrder>();
  /** The captured payment of each paid order, by order id (what refunds and disputes name). */
  private readonly captures = new Map<string, ReturnType<RazorpayDouble['payment']>>();
  /** Order requests refused for bad credentials (the client must send its key pair). */
  unauthorized = 0;
  url = '';
  private readonly server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The server configuration that points the API at this double. */
  get env(): Record<string, string> {
    return {
      PAYMENTS_ENABLED: 'true',
      RAZORPAY_KEY_ID: this.keyId,
      RAZORPAY_KEY_SECRET: this.keySecret,
      RAZORPAY_WEBHOOK_SECRET: this.webhookSecret,
      RAZORPAY_API_URL: this.url,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/v1/orders') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: 'BAD_REQUEST_ERROR', description: 'The requested URL was not found on the server.' },
        }),
      );
      return;
    }
    const expected = `Basic ${Buffer.from(`${this.keyId}:${this.keySecret}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      this.unauthorized += 1;
      error(res, 401, 'Authentication failed');
      return;
    }
    let input: { amount?: unknown; currency?: unknown; receipt?: unknown; notes?: unknown };
    try {
      input = JSON.parse(body);
    } catch {
      error(res, 400, 'The request body is not valid JSON');
      return;
    }
    if (!Number.isInteger(input.amount) || (input.amount as number) < 100) {
      error(res, 400, 'The amount must be atleast INR 1.00', 'amount');
      return;
    }
    if (input.currency !== 'INR') {
      error(res, 400, 'The currency provided is invalid', 'currency');
      return;
    }
    const order: DoubleOrder = {
      id: razorpayId('order'),
      entity: 'order',
      amount: input.amount as number,
      amount_paid: 0,
      amount_due: input.amount as number,
      currency: 'INR',
      receipt: typeof input.receipt === 'string' ? input.receipt : null,
      offer_id: null,
      status: 'created',
      attempts: 0,
      notes: (input.notes as Record<string, string>) ?? {},
      created_at: now(),
    };
    this.orders.set(order.id, order);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(order));
  }

  private payment(order: DoubleOrder, status: 'captured' | 'failed') {
    return {
      id: razorpayId('pay'),
      entity: 'payment',
      amount: order.amount,
      currency: order.currency,
      status,
      order_id: order.id,
      invoice_id: null,
      international: false,
      method: 'upi',
      amount_refunded: 0,
      refund_status: null,
      captured: status === 'captured',
      description: null,
      card_id: null,
      bank: null,
      wallet: null,
      vpa: 'customer@upi',
      email: 'customer@example.com',
      contact: '+919000090000',
      notes: order.notes,
      fee: status === 'captured' ? Math.round(order.amount * 0.02) : null,
      tax: status === 'captured' ? Math.round(order.amount * 0.0036) : null,
      error_code: status === 'failed' ? 'BAD_REQUEST_ERROR' : null,
      error_description: status === 'failed' ? 'Payment failed due to insufficient funds' : null,
      error_source: status === 'failed' ? 'customer' : null,
      error_step: status === 'failed' ? 'payment_authorization' : null,
      error_reason: status === 'failed' ? 'insufficient_funds' : null,
      acquirer_data: { rrn: String(Date.now()) },
      created_at: now(),
    };
  }

  /** Signs a body as Razorpay does, under a fresh event id. */
  sign(body: string, secret = this.webhookSecret): Delivery {
    return {
      eventId: razorpayId('evt').slice(4),
      body,
      signature: createHmac('sha256', secret).update(body).digest('hex'),
    };
  }

  private event(event: string, contains: string[], payload: Record<string, unknown>): Delivery {
    return this.sign(
      JSON.stringify({
        entity: 'event',
        account_id: this.accountId,
        event,
        contains,
        payload,
        created_at: now(),
      }),
    );
  }

  /**
   * The customer pays the order: Razorpay sends payment.captured and order.paid (two
   * events, two event ids, in no guaranteed order).
   */
  pay(orderId: string): { captured: Delivery; orderPaid: Delivery } {
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`no order ${orderId} at the double`);
    const payment = this.payment(order, 'captured');
    Object.assign(order, {
      status: 'paid',
      amount_paid: order.amount,
      amount_due: 0,
      attempts: order.attempts + 1,
    });
    this.captures.set(orderId, payment);
    return {
      captured: this.event('payment.captured', ['payment'], { payment: { entity: payment } }),
      orderPaid: this.event('order.paid', ['payment', 'order'], {
        payment: { entity: payment },
        order: { entity: { ...order } },
      }),
    };
  }

  /** A failed attempt on the order (payment.failed). */
  fail(orderId: string): Delivery {
    const order = this.orders.get(orderId);
    if (!order) throw new Error(`no order ${orderId} at the double`);
    order.attempts += 1;
    order.status = 'attempted';
    return this.event('payment.failed', ['payment'], { payment: { entity: this.payment(order, 'failed') } });
  }

  /**
   * The merchant refunds `amount` paise (default: the rest) of the order's payment: Razorpay
   * sends refund.created, refund.processed and payment.refunded, each with the refund and the
   * payment entity (amount_refunded counts this refund; status 'refunded' once in full).
   */
  refund(
    orderId: string,
    amount?: number,
  ): { created: Delivery; processed: Delivery; paymentRefunded: Delivery } {
    const payment = this.captures.get(orderId);
    if (!payment) throw new Error(`no captured payment for ${orderId} at the double`);
    const value = amount ?? payment.amount - payment.amount_refunded;
    const refunded = payment.amount_refunded + value;
    const full = refunded >= payment.amount;
    Object.assign(payment, {
      amount_refunded: refunded,
      refund_status: full ? 'full' : 'partial',
      status: full ? 'refunded' : 'captured',
    });
    const refund = (status: 'pending' | 'processed') => ({
      id: razorpayId('rfnd'),
      entity: 'refund',
      amount: value,
      currency: payment.currency,
      payment_id: payment.id,
      notes: {},
      receipt: null,
      acquirer_data: { arn: null },
      created_at: now(),
      batch_id: null,
      status,
      speed_processed: 'normal',
      speed_requested: 'optimum',
    });
    const pending = refund('pending');
    const payload = (r: ReturnType<typeof refund>) => ({
      refund: { entity: r },
      payment: { entity: { ...payment } },
    });
    return {
      created: this.event('refund.created', ['refund', 'payment'], payload(pending)),
      processed: this.event(
        'refund.processed',
        ['refund', 'payment'],
        payload({ ...pending, status: 'processed' }),
      ),
      paymentRefunded: this.event(
        'payment.refunded',
        ['payment', 'refund'],
        payload({ ...pending, status: 'processed' }),
      ),
    };
  }

  /** The customer's bank raises a chargeback on the order's payment (payment.dispute.created). */
  dispute(orderId: string): Delivery {
    const payment = this.captures.get(orderId);
    if (!payment) throw new Error(`no captured payment for ${orderId} at the double`);
    return this.event('payment.dispute.created', ['payment', 'dispute'], {
      payment: { entity: { ...payment } },
      dispute: {
        entity: {
          id: razorpayId('disp'),
          entity: 'dispute',
          payment_id: payment.id,
          amount: payment.amount,
          currency: payment.currency,
          amount_deducted: 0,
          reason_code: 'chargeback',
          respond_by: now() + 7 * 86_400,
          status: 'open',
          phase: 'chargeback',
          created_at: now(),
        },
      },
    });
  }

  /** Delivers one event to a webhook URL with Razorpay's headers. */
  deliver(webhookUrl: string, d: Delivery, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Razorpay-Webhook/v1',
        'x-razorpay-event-id': d.eventId,
        'x-razorpay-signature': d.signature,
        ...headers,
      },
      body: d.body,
    });
  }
}
