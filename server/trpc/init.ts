// tRPC initialisation: the error formatter, procedure meta (the access policy) and the
// procedure builders. Every policy check here reads the token's claims only: zero queries.
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError, z } from 'zod';
import { queryScope } from '../../db/client.ts';
import type { Feature, Permission } from '../../shared/catalog.ts';
import type { AppErrorData } from '../../shared/errors.ts';
import type { Context } from './context.ts';
import { databaseFailure, ErrorDetails, forbidden, unauthorized } from './errors.ts';

/** Access policy and limits, declared per procedure with .meta({...}). */
export interface Meta {
  permission?: Permission;
  feature?: Feature;
  /** Minimum privilege level of the caller's role. */
  minPrivilege?: number;
  /** Which rate-limit policy counts this call (default: 'general'). */
  rateLimit?: 'general' | 'login' | 'register' | 'none';
}

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
      if (cause instanceof ErrorDetails) Object.assign(data, cause.details);
      data.zodError =
        error.code === 'BAD_REQUEST' && cause instanceof ZodError ? z.flattenError(cause) : null;
      // Unexpected errors (a driver error carries SQL and parameters: health data) get
      // a generic message; the full error goes to the server log only.
      const message = error.code === 'INTERNAL_SERVER_ERROR' ? GENERIC_ERROR_MESSAGE : shape.message;
      return { ...shape, message, data };
    },
  });

export const router = t.router;
export const mergeRouters = t.mergeRouters;
export const createCallerFactory = t.createCallerFactory;

/** Outermost middleware: counts this call's SQL statements and reports the call. */
const observe = t.middleware(async ({ ctx, path, type, next }) => {
  const scope = { queries: 0 };
  const started = performance.now();
  let result = await queryScope.run(scope, () => next());
  // A busy pool, a statement timeout or a lost connection answers 503/504 with a clean
  // message instead of a 500 (see databaseFailure).
  const dbError = result.ok ? undefined : databaseFailure(result.error);
  if (dbError && !result.ok) result = { ...result, error: dbError };
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
 * Authentication and the policy of .meta({ minPrivilege, permission, feature }), from the
 * token's claims alone (zero queries). One middleware: every level of tRPC's middleware
 * chain copies the context, and this runs on every protected call.
 */
const authorize = t.middleware(({ ctx, meta, next }) => {
  const auth = ctx.auth;
  if (!auth) throw unauthorized(ctx.authError ? 'Invalid or expired access token' : undefined);
  if (meta?.minPrivilege !== undefined && auth.privilegeLevel < meta.minPrivilege)
    throw forbidden('insufficient_privilege', String(meta.minPrivilege));
  if (meta?.permission && !auth.permissions.includes(meta.permission))
    throw forbidden('missing_permission', meta.permission);
  if (meta?.feature && !auth.features.includes(meta.feature))
    throw forbidden('missing_feature', meta.feature);
  return next({ ctx: { auth } });
});

export const publicProcedure = t.procedure.use(observe).use(limit);
/** Authenticated; the policy in .meta() is enforced before the resolver runs. */
export const protectedProcedure = publicProcedure.use(authorize);

export { TRPCError };
