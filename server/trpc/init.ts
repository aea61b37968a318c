// tRPC initialisation: the error formatter, procedure meta (the access policy) and the
// procedure builders. Every policy check here reads the token's claims only: zero queries.
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError, z } from 'zod';
import { classifyDbError, queryScope } from '../../db/client.ts';
import type { Permission } from '../../shared/catalog.ts';
import type { AppErrorData } from '../../shared/errors.ts';
import { DomainError, EXPIRED_TOKEN_MESSAGE, forbidden, unauthorized } from '../domain/errors.ts';
import type { Context } from './context.ts';
import { edgeError, inputErrorMessage } from './errors.ts';
import type { Meta } from './meta.ts';

export type { Meta };

export const GENERIC_ERROR_MESSAGE = 'Internal server error';

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    // Never put stack traces in responses, in any environment.
    isDev: false,
    errorFormatter({ shape, error }) {
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
            ? inputErrorMessage(cause)
            : shape.message;
      return { ...shape, message, data };
    },
  });

export const router = t.router;
export const mergeRouters = t.mergeRouters;
export const createCallerFactory = t.createCallerFactory;

function lostConnection(result: { ok: boolean; error?: TRPCError }): boolean {
  if (result.ok || !result.error) return false;
  const kind = classifyDbError(result.error.cause);
  return kind === 'connection' || kind === 'pool_busy';
}

/** Outermost middleware: counts this call's SQL statements and reports the call. */
const observe = t.middleware(async ({ ctx, path, type, next }) => {
  const scope = { queries: 0 };
  const started = performance.now();
  const run = () => queryScope.run(scope, () => next());
  // Read-only calls may go to a replica (and again to the primary if it failed there for
  // want of a connection); a caller's write keeps their reads on the primary for a while.
  const reads = ctx.deps.reads;
  let result = reads && type === 'query' ? await reads.run(ctx.auth?.sub, run, lostConnection) : await run();
  if (reads && type === 'mutation' && result.ok && ctx.auth) reads.noteWrite(ctx.auth.sub);
  // Domain errors become their tRPC code here, at the edge; a busy pool, a statement
  // timeout or a lost connection answers 503/504 with a clean message instead of a 500,
  // a write for a caller whose user is gone 401.
  if (!result.ok) result = { ...result, error: edgeError(result.error, ctx.auth?.sub) };
  // An enclosing countQueries() (tests, jobs) sees this call's statements too.
  const outer = queryScope.getStore();
  if (outer) outer.queries += scope.queries;
  ctx.deps.hooks.onProcedure?.({
    path,
    type,
    ok: result.ok,
    code: result.ok ? 'OK' : result.error.code,
    error: result.ok ? undefined : result.error,
    durationMs: performance.now() - started,
    queries: scope.queries,
    ctx,
  });
  return result;
});

/** Rate limiting per procedure call (a batch cannot bypass it); see server/limits. */
const limit = t.middleware(async ({ ctx, path, meta, next }) => {
  await ctx.deps.hooks.beforeProcedure?.({ ctx, path, meta });
  return next();
});

/**
 * Authentication, consent to the current privacy notice, and the policy of
 * .meta({ permission, feature, fieldPermissions }), from the token's claims alone (zero queries). One middleware: every level of tRPC's
 * middleware chain copies the context, and this runs on every protected call.
 */
export const authorize = t.middleware(async ({ ctx, meta, next, getRawInput }) => {
  const auth = ctx.auth;
  if (!auth) throw unauthorized(ctx.authError ? EXPIRED_TOKEN_MESSAGE : undefined);
  const notice = ctx.deps.config.PRIVACY_NOTICE_VERSION;
  if (auth.privacyNotice !== notice && !meta?.beforeConsent)
    throw forbidden('privacy_notice_required', notice);
  if (meta?.permission && !auth.permissions.includes(meta.permission))
    throw forbidden('missing_permission', meta.permission);
  if (meta?.feature && !auth.features.includes(meta.feature))
    throw forbidden('missing_feature', meta.feature);
  if (meta?.fieldPermissions) {
    const input = await getRawInput();
    for (const [permission, fields] of Object.entries(meta.fieldPermissions) as [
      Permission,
      readonly string[],
    ][])
      if (!auth.permissions.includes(permission) && fields.some((f) => fieldGiven(input, f)))
        throw forbidden('missing_permission', permission);
  }
  return next({ ctx: { auth } });
});

function fieldGiven(input: unknown, field: string): boolean {
  return (
    typeof input === 'object' && input !== null && (input as Record<string, unknown>)[field] !== undefined
  );
}

export const publicProcedure = t.procedure.use(observe).use(limit);
/** Authenticated; the policy in .meta() is enforced before the resolver runs. */
export const protectedProcedure = publicProcedure.use(authorize);

export { TRPCError };
