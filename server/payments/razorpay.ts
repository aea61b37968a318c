// The payment provider: Razorpay's Orders API (create an order in paise) and its webhook
// protocol (X-Razorpay-Signature = hex HMAC-SHA256 of the raw body, keyed with the webhook
// secret; x-razorpay-event-id names the event). The client is an interface so the domain
// does not care how orders are made; the real implementation speaks HTTP to
// RAZORPAY_API_URL (tests point it at a local double that behaves and signs as Razorpay).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config.ts';

export interface CreateOrder {
  amountPaise: number;
  currency: 'INR';
  /** Our reference (≤ 40 characters), shown in the provider's dashboard. */
  receipt: string;
  notes: Record<string, string>;
}

export interface ProviderOrder {
  id: string;
  amount: number;
  currency: string;
  status: string;
}

export interface PaymentProvider {
  /** The public key id the client's Checkout needs beside the order id. */
  readonly keyId: string;
  createOrder(order: CreateOrder): Promise<ProviderOrder>;
}

/** The provider could not be reached or refused the request: nothing was bought. */
export class PaymentProviderError extends Error {}

const orderSchema = z.object({
  id: z.string().regex(/^order_[A-Za-z0-9]{1,40}$/),
  entity: z.literal('order'),
  amount: z.number().int(),
  currency: z.string(),
  status: z.string(),
});

const REQUEST_TIMEOUT_MS = 10_000;

/** Razorpay's REST API: POST /v1/orders with HTTP basic auth (key id : key secret). */
export class RazorpayClient implements PaymentProvider {
  readonly keyId: string;
  private readonly authorization: string;
  private readonly baseUrl: string;
  constructor(keyId: string, keySecret: string, baseUrl: string) {
    this.keyId = keyId;
    this.baseUrl = baseUrl;
    this.authorization = `Basic ${Buffer.from(`${keyId}:${keySecret}`).toString('base64')}`;
  }

  async createOrder(order: CreateOrder): Promise<ProviderOrder> {
    let res: Response;
    try {
      res = await fetch(new URL('/v1/orders', this.baseUrl), {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/json' },
        body: JSON.stringify({
          amount: order.amountPaise,
          currency: order.currency,
          receipt: order.receipt,
          notes: order.notes,
        }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new PaymentProviderError('the payment provider did not answer', { cause: err });
    }
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) throw new PaymentProviderError(`the payment provider answered ${res.status}`);
    const parsed = orderSchema.safeParse(body);
    if (!parsed.success) throw new PaymentProviderError('the payment provider answered an unexpected order');
    return parsed.data;
  }
}

/** The configured provider, or undefined when PAYMENTS_ENABLED is false. */
export function createPaymentProvider(config: Config): PaymentProvider | undefined {
  if (!config.PAYMENTS_ENABLED) return undefined;
  return new RazorpayClient(config.RAZORPAY_KEY_ID!, config.RAZORPAY_KEY_SECRET!, config.RAZORPAY_API_URL);
}

/** Razorpay's webhook signature: hex HMAC-SHA256 of the exact bytes received. */
export function webhookSignature(rawBody: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

/** Constant-time check of X-Razorpay-Signature against the raw body. */
export function verifyWebhookSignature(rawBody: Buffer, signature: unknown, secret: string): boolean {
  // Lower-case hex, as Razorpay sends it: another spelling of the same bytes is not its.
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return false;
  const expected = Buffer.from(webhookSignature(rawBody, secret), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/**
 * The part of a webhook event this service acts on: the payment entity (in payment.*,
 * order.paid, refund.* and payment.dispute.* events), and the refund or dispute entity.
 */
export const webhookEventSchema = z.object({
  entity: z.literal('event'),
  event: z.string().max(100),
  payload: z
    .object({
      payment: z
        .object({
          entity: z.object({
            id: z.string().max(100),
            order_id: z.string().max(100).nullable(),
            amount: z.number().int(),
            currency: z.string().max(10),
            status: z.string().max(40),
            /** Refunded so far (paise), this refund included. */
            amount_refunded: z.number().int().nullish(),
          }),
        })
        .optional(),
      refund: z
        .object({
          entity: z.object({
            id: z.string().max(100),
            payment_id: z.string().max(100),
            amount: z.number().int(),
          }),
        })
        .optional(),
      dispute: z
        .object({ entity: z.object({ id: z.string().max(100), payment_id: z.string().max(100) }) })
        .optional(),
    })
    .optional(),
});

/** Razorpay's events that take a payment back: a refund (when full) or a dispute. */
export const REFUND_EVENTS = ['payment.refunded', 'refund.created', 'refund.processed'] as const;
export const DISPUTE_EVENTS = ['payment.dispute.created'] as const;
export type WebhookEvent = z.infer<typeof webhookEventSchema>;
