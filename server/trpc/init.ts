// tRPC initialisation: the error formatter, procedure meta (the access policy) and the
// procedure builders, whose one middleware level is the call pipeline of
// server/trpc/invoke.ts (limits, policy, replicas, output checks, errors, metrics). Every
// policy check reads the token's claims only: zero queries.
import { initTRPC, TRPCError, type TRPCMiddlewareFunction } from '@trpc/server';
import { ZodError, z } from 'zod';
import type { AppErrorData } from '../../shared/errors.ts';
import type { AccessClaims } from '../auth/tokens.ts';
import { DomainError } from '../domain/errors.ts';
import type { Context } from './context.ts';
import { inputErrorMessage } from './errors.ts';
import { authorized, deferOutputChecks, markPipelineBuilders, observed } from './invoke.ts';
import type { Meta } from './meta.ts';
import { transformer } from './transformer.ts';

export type { Meta };

export const GENERIC_ERROR_MESSAGE = 'Internal server error';
export const SSE_PING_MS = 15_000;
export const SSE_RECONNECT_AFTER_MS = 40_000;

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // superjson on the wire; results encoded without its general walker (transformer.ts).
    transformer,
    // Never put stack traces in responses, in any environment.
    isDev: false,
    // Subscriptions over server-sent events (crisis.onChange): a ping comment every 15 s keeps
    // proxies from closing an idle stream, and tells the client to reconnect (resuming from
    // its last event id) when nothing, not even a ping, came for 40 s.
    sse: {
      ping: { enabled: true, intervalMs: SSE_PING_MS },
      client: { reconnectAfterInactivityMs: SSE_RECONNECT_AFTER_MS },
    },
    errorFormatter({ shape, error, input }) {
      const cause = error.cause;
      const data: typeof shape.data & AppErrorData = { ...shape.data };
      if (cause instanceof DomainError && cause.details) Object.assign(data, cause.details);
      data.zodError =
        error.code === 'BAD_REQUEST' && cause instanceof ZodError ? z.flattenError(cause) : null;
      // Unexpected errors (a driver error carries SQL and parameters: health data) get
      // a generic message; the full error goes to the server log only.
      const message =
        error.code === 'INTERNAL_SERVER_ERROR'
          ? GENERIC_ERROR_MESSAGE
          : data.zodError && cause instanceof ZodError
            ? inputErrorMessage(cause, input)
            : shape.message;
      return { ...shape, message, data };
    },
  });

/** t.router, with the .output() checks of its procedures made on demand (deferOutputChecks). */
export const router: typeof t.router = ((record: Parameters<typeof t.router>[0]) =>
  deferOutputChecks(t.router(record))) as typeof t.router;
export const mergeRouters = t.mergeRouters;
export const createCallerFactory = t.createCallerFactory;

/** Anyone; rate limited per call (a batch cannot bypass it; see server/limits). */
export const publicProcedure = t.procedure.use(({ ctx, path, type, meta, next, getRawInput }) =>
  observed(
    ctx,
    path,
    type,
    meta,
    getRawInput,
    async () => ctx.deps.hooks.beforeProcedure?.({ ctx, path, meta }),
    () => next(),
  ),
);

/**
 * next({ ctx: { auth } })'s type — ctx.auth not null for the resolvers — without tRPC's copy
 * of the whole context that passing a ctx costs: the claims authorized() returns are
 * ctx.auth itself.
 */
type NextAuthorized = () => ReturnType<
  TRPCMiddlewareFunction<Context, Meta, object, { auth: AccessClaims }, unknown>
>;

/** Authenticated; the policy in .meta() is enforced before the resolver runs. */
export const protectedProcedure = t.procedure.use(({ ctx, path, type, meta, next, getRawInput }) =>
  observed(
    ctx,
    path,
    type,
    meta,
    getRawInput,
    async () => {
      await ctx.deps.hooks.beforeProcedure?.({ ctx, path, meta });
      return authorized(ctx, meta, getRawInput);
    },
    () => (next as unknown as NextAuthorized)(),
  ),
);
markPipelineBuilders({ public: publicProcedure, protected: protectedProcedure });

export { TRPCError };
