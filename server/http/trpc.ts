// Serves the tRPC router at /trpc.
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { type AppRouter, appRouter } from '../routers/index.ts';
import { createContext } from '../trpc/context.ts';

export async function registerTrpc(app: FastifyInstance, deps: AppDeps): Promise<void> {
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
}
