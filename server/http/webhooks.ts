// POST /webhooks/razorpay: payment events from Razorpay, to its documented protocol. The
// body is read raw (a Buffer, at most WEBHOOK_BODY_LIMIT) because the signature covers the
// exact bytes sent; X-Razorpay-Signature is checked in constant time before anything is
// parsed or stored; x-razorpay-event-id makes a retried event harmless. Answers: 200 once
// handled (also for a duplicate or an event this service ignores), 400 for a bad signature
// or a malformed event (nothing stored), 5xx when it could not be stored (Razorpay retries).
// Registered only when PAYMENTS_ENABLED=true.
import type { FastifyInstance } from 'fastify';
import { classifyDbError } from '../../db/client.ts';
import { applyWebhookEvent } from '../domain/subscriptions.ts';
import { verifyWebhookSignature, webhookEventSchema } from '../payments/razorpay.ts';
import type { AppDeps } from '../services.ts';

export const RAZORPAY_WEBHOOK_PATH = '/webhooks/razorpay';
/** Razorpay's events are a few KB. */
const WEBHOOK_BODY_LIMIT = 64 * 1024;
const EVENT_ID = /^[A-Za-z0-9_.:-]{1,100}$/;

export async function registerWebhooks(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const secret = deps.config.RAZORPAY_WEBHOOK_SECRET;
  if (!deps.config.PAYMENTS_ENABLED || !secret) return;
  await app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    scope.post(RAZORPAY_WEBHOOK_PATH, { bodyLimit: WEBHOOK_BODY_LIMIT }, async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) return reply.code(415).send({ error: 'expected application/json' });
      if (!verifyWebhookSignature(req.body, req.headers['x-razorpay-signature'], secret)) {
        req.log.warn('razorpay webhook refused: bad signature');
        return reply.code(400).send({ error: 'invalid signature' });
      }
      const eventId = req.headers['x-razorpay-event-id'];
      if (typeof eventId !== 'string' || !EVENT_ID.test(eventId))
        return reply.code(400).send({ error: 'missing or malformed x-razorpay-event-id' });
      let json: unknown;
      try {
        json = JSON.parse(req.body.toString('utf8'));
      } catch {
        return reply.code(400).send({ error: 'invalid JSON' });
      }
      const event = webhookEventSchema.safeParse(json);
      if (!event.success) return reply.code(400).send({ error: 'not a Razorpay event' });
      try {
        const outcome = await applyWebhookEvent(deps, eventId, event.data);
        req.log.info({ eventId, event: event.data.event, outcome }, 'razorpay webhook');
        return reply.send({ status: 'ok' });
      } catch (err) {
        const kind = classifyDbError(err);
        req.log.error({ err, eventId }, 'razorpay webhook could not be stored');
        return reply
          .code(kind && kind !== 'invalid_text' ? 503 : 500)
          .send({ error: 'not stored; retry later' });
      }
    });
  });
}
