// Serves the tRPC router at /trpc, on one of two paths chosen by TRPC_PATH:
// - lean (default): server/http/lean.ts, wire-compatible with @trpc/client and ~3-4x
//   faster; anything it does not serve goes to the official handler below;
// - official: tRPC's Fastify adapter as is.
// Both are Fastify routes, so the server's hooks (body limit, compression, request id,
// CORS) apply to both, and both take the context, the error log and the response headers
// (Retry-After) from the call pipeline (server/trpc/invoke.ts), whose middleware level
// every procedure runs.
import type { AnyTRPCRouter } from '@trpc/server';
import {
  type FastifyTRPCPluginOptions,
  fastifyRequestHandler,
  fastifyTRPCPlugin,
} from '@trpc/server/adapters/fastify';
import type { FastifyInstance } from 'fastify';
import { type AppRouter, appRouter } from '../routers/index.ts';
import { sessionRouter } from '../routers/session.ts';
import type { AppDeps } from '../services.ts';
import { contextFor, logCallError, responseHeaders } from '../trpc/invoke.ts';
import { BODY_LIMIT_BYTES } from './body-guard.ts';
import { canServeLean, handleLean, type LeanHandlerOptions, searchParamsOf } from './lean.ts';
import { SESSION_PATH, sameOriginCheck } from './session-cookie.ts';

/** tRPC's own adapter options: the official path, and the lean path's fallback. */
export function officialOptions<TRouter extends AnyTRPCRouter = AppRouter>(
  deps: AppDeps,
  router: TRouter = appRouter as unknown as TRouter,
): FastifyTRPCPluginOptions<TRouter>['trpcOptions'] {
  return {
    router,
    maxBatchSize: deps.config.MAX_BATCH_SIZE,
    // bodyGuard already refuses what this would (a second line if a route ever skips it).
    maxBodySize: BODY_LIMIT_BYTES,
    createContext: ({ req }) => contextFor(deps, req),
    onError: ({ error, path, ctx }) => logCallError(deps, error, path, ctx),
    responseMeta: ({ ctx }) => {
      const headers = [...responseHeaders(ctx)];
      return headers.length > 0 ? { headers: new Headers(headers) } : {};
    },
  };
}

export function leanOptions<TRouter extends AnyTRPCRouter = AppRouter>(
  deps: AppDeps,
  router: TRouter = appRouter as unknown as TRouter,
): LeanHandlerOptions<TRouter> {
  return {
    router,
    maxBatchSize: deps.config.MAX_BATCH_SIZE,
    createContext: (req) => contextFor(deps, req),
    onError: ({ error, path, ctx }) => logCallError(deps, error, path, ctx),
    responseHeaders,
  };
}

export async function registerTrpc(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await mountTrpc(app, deps.config.TRPC_PATH, officialOptions(deps), leanOptions(deps));
  // The admin console's cookie session: its own path (the cookie's scope), same-origin only.
  await app.register(async (scope) => {
    scope.addHook('onRequest', sameOriginCheck);
    const mode = deps.config.TRPC_PATH;
    await mountTrpc(
      scope,
      mode,
      officialOptions(deps, sessionRouter),
      leanOptions(deps, sessionRouter),
      SESSION_PATH,
    );
  });
}

/** Mounts a router at prefix on the chosen path (generic so tests and the bench mount their own). */
export async function mountTrpc<TRouter extends AnyTRPCRouter>(
  app: FastifyInstance,
  mode: 'lean' | 'official',
  official: FastifyTRPCPluginOptions<TRouter>['trpcOptions'],
  lean: LeanHandlerOptions<TRouter>,
  prefix = '/trpc',
): Promise<void> {
  if (mode === 'official') {
    await app.register(fastifyTRPCPlugin, { prefix, trpcOptions: official });
    return;
  }
  await app.register(
    async (scope) => {
      // As fastifyTRPCPlugin does: bodies reach tRPC unparsed (JSON as text, multipart as a stream).
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) =>
        done(null, body),
      );
      scope.removeContentTypeParser('multipart/form-data');
      scope.addContentTypeParser('multipart/form-data', {}, (_req, body, done) => done(null, body));
      scope.all<{ Params: { path: string } }>('/:path', async (req, reply) => {
        const path = req.params.path;
        const query = searchParamsOf(req.url);
        if (query && canServeLean(req, query) && (await handleLean(lean, req, reply, path, query)))
          return reply;
        await fastifyRequestHandler({ ...official, req, res: reply, path });
        return reply;
      });
    },
    { prefix },
  );
}
