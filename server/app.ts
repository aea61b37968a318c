// Builds the application: services (createDeps) and the HTTP server (buildServer).

import { randomUUID } from 'node:crypto';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { createDatabase, type Database } from '../db/client.ts';
import { assertViewsReady } from '../db/views.ts';
import { loadKeyRing } from './auth/keys.ts';
import { RevocationList } from './auth/revocation.ts';
import { TokenService } from './auth/tokens.ts';
import type { Config } from './config.ts';
import type { AppDeps } from './deps.ts';
import { type AppRouter, appRouter } from './routers/index.ts';
import { createContext } from './trpc/context.ts';

/** Paths and keys pino must never write: tokens, passwords, notes, answers. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.refreshToken',
  '*.accessToken',
  '*.token',
  '*.note',
  '*.answers',
];

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return pino({ level: config.LOG_LEVEL, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

export async function createDeps(
  config: Config,
  opts: { log?: Logger; database?: Database } = {},
): Promise<AppDeps> {
  const log = opts.log ?? createLogger(config);
  const database =
    opts.database ??
    (await createDatabase({
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolMax: config.DATABASE_POOL_MAX,
    }));
  if (database.kind === 'pglite') {
    log.warn(`no DATABASE_URL: using the embedded PGlite database under ${config.DATA_DIR}`);
    await database.migrate();
  }
  await assertViewsReady(database.db);
  const keys = await loadKeyRing(config, (msg) => log.warn(msg));
  const tokens = new TokenService({
    keys,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  return {
    config,
    database,
    db: database.db,
    readDb: database.db,
    tokens,
    revocations: new RevocationList(),
    log,
    hooks: {},
  };
}

export async function buildServer(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
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

  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      maxBatchSize: deps.config.MAX_BATCH_SIZE,
      createContext: ({ req }) =>
        createContext(deps, {
          ip: req.ip,
          requestId: req.id,
          userAgent: req.headers['user-agent'],
          authorization: req.headers.authorization,
        }),
      onError({ error, path, ctx }) {
        if (error.code === 'INTERNAL_SERVER_ERROR')
          deps.log.error({ err: error.cause ?? error, path, reqId: ctx?.req.requestId }, 'procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });
  return app;
}

export async function closeDeps(deps: AppDeps): Promise<void> {
  await deps.database.close();
}
