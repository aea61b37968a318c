// tRPC initialisation: the error formatter, procedure meta (the access policy) and the
// procedure builders. Every policy check here reads the token's claims only: zero queries.
import { getTRPCErrorFromUnknown, initTRPC, TRPCError } from '@trpc/server';
import { ZodError, z } from 'zod';
import { classifyDbError, queryScope } from '../../db/client.ts';
import type { Permission } from '../../shared/catalog.ts';
import type { AppErrorData } from '../../shared/errors.ts';
import { DomainError, EXPIRED_TOKEN_MESSAGE, forbidden, unauthorized } from '../domain/errors.ts';
import type { Context } from './context.ts';
import { edgeError, inputErrorMessage } from './errors.ts';
import type { Meta } from './meta.ts';
import { transformer } from './transformer.ts';

export type { Meta };

export const GENERIC_ERROR_MESSAGE = 'Internal server error';

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // superjson on the wire; results encoded without its general walker (transformer.ts).
    transformer,
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

/** What a middleware's next() resolves to: tRPC's own shape, errors included. */
type CallResult = { ok: true } | { ok: false; error: TRPCError };

/** A call that failed on a replica for want of a connection (run again on the primary). */
function lostConnection(result: CallResult): boolean {
  if (result.ok) return false;
  const kind = classifyDbError(result.error.cause);
  return kind === 'connection' || kind === 'pool_busy';
}

/**
 * Every call, as ONE middleware level (each level of tRPC's chain copies the options and
 * the context): count its SQL statements; `prepare` once (the rate limit, and for protected
 * procedures the policy); `call` the resolver — read-only calls on a replica (and again on
 * the primary if it failed there for want of a connection), a caller's write keeping their
 * reads on the primary for a while; turn domain errors into their tRPC code at the edge — a
 * busy pool, a statement timeout or a lost connection answers 503/504 with a clean message
 * instead of a 500, a write for a caller whose user is gone 401 — and report it.
 */
async function observed<P, R extends CallResult>(
  ctx: Context,
  path: string,
  type: 'query' | 'mutation' | 'subscription',
  prepare: () => Promise<P>,
  call: (prepared: P) => Promise<R>,
): Promise<R> {
  const scope = { queries: 0 };
  const started = performance.now();
  let result: R;
  try {
    const prepared = await queryScope.run(scope, prepare);
    const attempt = () => queryScope.run(scope, () => call(prepared));
    const reads = ctx.deps.reads;
    result =
      reads && type === 'query' ? await reads.run(ctx.auth?.sub, attempt, lostConnection) : await attempt();
    if (reads && type === 'mutation' && result.ok && ctx.auth) reads.noteWrite(ctx.auth.sub);
  } catch (cause) {
    // What tRPC makes of an error thrown by a middleware (callRecursive), so a refusal
    // here reads exactly like one from a later level.
    result = { ok: false, error: getTRPCErrorFromUnknown(cause), marker: 'middlewareMarker' } as unknown as R;
  }
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
}

/**
 * Authentication, consent to the current privacy notice, and the policy of
 * .meta({ permission, feature, fieldPermissions }), from the token's claims alone (zero
 * queries). Returns the caller's claims.
 */
async function authorized(ctx: Context, meta: Meta | undefined, getRawInput: () => Promise<unknown>) {
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
  return auth;
}

function fieldGiven(input: unknown, field: string): boolean {
  return (
    typeof input === 'object' && input !== null && (input as Record<string, unknown>)[field] !== undefined
  );
}

/** Anyone; rate limited per call (a batch cannot bypass it; see server/limits). */
export const publicProcedure = t.procedure.use(({ ctx, path, type, meta, next }) =>
  observed(
    ctx,
    path,
    type,
    async () => ctx.deps.hooks.beforeProcedure?.({ ctx, path, meta }),
    () => next(),
  ),
);
/** Authenticated; the policy in .meta() is enforced before the resolver runs. */
export const protectedProcedure = t.procedure.use(({ ctx, path, type, meta, next, getRawInput }) =>
  observed(
    ctx,
    path,
    type,
    async () => {
      await ctx.deps.hooks.beforeProcedure?.({ ctx, path, meta });
      return authorized(ctx, meta, getRawInput);
    },
    (auth) => next({ ctx: { auth } }),
  ),
);

export { TRPCError };
