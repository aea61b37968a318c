// The HTTP server: health, readiness, JWKS and tRPC at /trpc.

import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AppDeps } from './deps.ts';
import { registerTrpc } from './http/trpc.ts';

export async function buildServer(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // A tRPC batch names every procedure in one path segment ("a.b,c.d,..."); Fastify's
    // default of 100 characters answered 414 to a batch of six ordinary calls.
    maxParamLength: 4096,
    trustProxy: deps.config.TRUST_PROXY,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await deps.database.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable' });
    }
  });
  app.get('/.well-known/jwks.json', async () => deps.tokens.jwks);

  await registerTrpc(app, deps);
  return app;
}
