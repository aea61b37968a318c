// tRPC initialisation: the error formatter, procedure meta (the access policy) and the
// procedure builders. Every policy check here reads the token's claims only: zero queries.
import { isDeepStrictEqual } from 'node:util';
import {
  type AnyTRPCProcedure,
  type AnyTRPCRouter,
  getTRPCErrorFromUnknown,
  initTRPC,
  TRPCError,
} from '@trpc/server';
import type { MiddlewareResult } from '@trpc/server/unstable-core-do-not-import';
import { ZodError, z } from 'zod';
import { classifyDbError, queryScope } from '../../db/client.ts';
import type { Permission } from '../../shared/catalog.ts';
import type { AppErrorData } from '../../shared/errors.ts';
import { needsSecondFactor, steppedUp, withSecondFactor } from '../auth/factor-policy.ts';
import type { AccessClaims } from '../auth/tokens.ts';
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

/** t.router, with the .output() checks of its procedures made on demand (deferOutputChecks). */
export const router: typeof t.router = ((record: Parameters<typeof t.router>[0]) =>
  deferOutputChecks(t.router(record))) as typeof t.router;
export const mergeRouters = t.mergeRouters;
export const createCallerFactory = t.createCallerFactory;

/** What a middleware's next() resolves to: tRPC's own shape, errors included. */
type CallResult = { ok: true; data?: unknown } | { ok: false; error: TRPCError };

/** A call that failed on a replica for want of a connection (run again on the primary). */
function lostConnection(result: CallResult): boolean {
  if (result.ok) return false;
  const kind = classifyDbError(result.error.cause);
  return kind === 'connection' || kind === 'pool_busy';
}

/**
 * A procedure's .output() schema, by the procedure's meta object (what a middleware sees of
 * its procedure), for the procedures whose check deferOutputChecks made on demand.
 */
const outputSchemas = new WeakMap<object, z.ZodType>();
/** The middlewares of publicProcedure and protectedProcedure (each runs `observed`). */
const observing = new WeakSet<object>();

/**
 * tRPC checks a procedure's result against its .output() schema at every call, in a
 * middleware level of its own (~1.3 µs for auth.me, ~8 µs for a 20-row mood.list, plus the
 * level's copies of the call's options). The schemas are the REST contract (/api and the
 * OpenAPI document, server/http/rest.ts): this takes tRPC's check out of the chain of every
 * procedure built on publicProcedure or protectedProcedure and lets `observed` make it where
 * the context asks for it (Context.outputCheck): REST calls, and every call with
 * OUTPUT_VALIDATION=all (the tests), which also refuses a result carrying fields the schema
 * does not declare — so the unchecked /trpc answer is the one the check would have given.
 * `_def.output` stays (the OpenAPI generator and RouterOutputs read it). A procedure without
 * its own meta object, or sharing one with another procedure, keeps tRPC's check.
 */
export function deferOutputChecks<R extends AnyTRPCRouter>(r: R): R {
  for (const proc of Object.values(r._def.procedures as Record<string, AnyTRPCProcedure>)) {
    const def = proc._def as unknown as {
      output?: unknown;
      meta?: object;
      middlewares: Array<{ _type?: string }>;
    };
    const { output, meta, middlewares } = def;
    if (!(output instanceof z.ZodType) || !meta || outputSchemas.has(meta)) continue;
    const at = middlewares.findIndex((m) => m._type === 'output');
    if (at < 1 || !observing.has(middlewares[0]!)) continue;
    if (middlewares.findIndex((m, i) => i > at && m._type === 'output') !== -1) continue;
    outputSchemas.set(meta, output);
    // The procedure's caller runs this very array (tRPC copies _def shallowly).
    middlewares.splice(at, 1);
  }
  return r;
}

/** A successful result checked against the procedure's schema, as tRPC's output middleware does. */
function checkOutput<R extends CallResult>(result: R, schema: z.ZodType, strict: boolean): R {
  if (!result.ok) return result;
  try {
    const data = schema.parse(result.data);
    if (strict && !isDeepStrictEqual(data, result.data))
      throw new Error('the result has fields its output schema does not declare (they would be dropped)');
    return { ...result, data };
  } catch (cause) {
    const error = new TRPCError({
      message: 'Output validation failed',
      code: 'INTERNAL_SERVER_ERROR',
      cause,
    });
    return { ok: false, error, marker: 'middlewareMarker' } as unknown as R;
  }
}

/**
 * Every call, as ONE middleware level (each level of tRPC's chain copies the options and
 * the context): count its SQL statements; `prepare` once (the rate limit, and for protected
 * procedures the policy); `call` the resolver — read-only calls on a replica (and again on
 * the primary if it failed there for want of a connection), a caller's write keeping their
 * reads on the primary for a while; check the result against the .output() schema where
 * the context asks for it (deferOutputChecks); turn domain errors into their tRPC code at
 * the edge — a busy pool, a statement timeout or a lost connection answers 503/504 with a
 * clean message instead of a 500, a write for a caller whose user is gone 401 — and report it.
 */
async function observed<P, R extends CallResult>(
  ctx: Context,
  path: string,
  type: 'query' | 'mutation' | 'subscription',
  meta: Meta | undefined,
  prepare: () => Promise<P>,
  call: (prepared: P) => Promise<R>,
): Promise<R> {
  const scope = { queries: 0 };
  const started = performance.now();
  let result: R;
  try {
    // One async scope for the whole call: the statements of prepare and of the resolver.
    result = await queryScope.run(scope, async () => {
      const prepared = await prepare();
      const attempt = () => call(prepared);
      const reads = ctx.deps.reads;
      const r =
        reads && type === 'query' ? await reads.run(ctx.auth?.sub, attempt, lostConnection) : await attempt();
      if (reads && type === 'mutation' && r.ok && ctx.auth) reads.noteWrite(ctx.auth.sub);
      return r;
    });
  } catch (cause) {
    // What tRPC makes of an error thrown by a middleware (callRecursive), so a refusal
    // here reads exactly like one from a later level.
    result = { ok: false, error: getTRPCErrorFromUnknown(cause), marker: 'middlewareMarker' } as unknown as R;
  }
  const schema = ctx.outputCheck !== 'off' && meta ? outputSchemas.get(meta) : undefined;
  if (schema) result = checkOutput(result, schema, ctx.outputCheck === 'strict');
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
 * Authentication, consent to the current privacy notice, the second factor a role needs,
 * step-up, and the policy of .meta({ apiKey, permission, feature, fieldPermissions }), from
 * the token's claims alone (zero queries). Returns the caller's claims.
 */
async function authorized(ctx: Context, meta: Meta | undefined, getRawInput: () => Promise<unknown>) {
  const auth = ctx.auth;
  if (!auth) throw unauthorized(ctx.authError ? EXPIRED_TOKEN_MESSAGE : undefined);
  const notice = ctx.deps.config.PRIVACY_NOTICE_VERSION;
  if (auth.privacyNotice !== notice && !meta?.beforeConsent)
    throw forbidden('privacy_notice_required', notice);
  if (!meta?.beforeFactor && !withSecondFactor(auth) && needsSecondFactor(auth.permissions))
    throw forbidden('factor_required');
  if (auth.apiKey && !apiKeyMay(meta, auth)) throw forbidden('api_key_not_allowed');
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
  // Last: no one is asked to verify a factor for a call they may not make anyway.
  if (meta?.stepUp && !steppedUp(auth, Date.now() / 1000)) {
    const asked = meta.stepUp === true || meta.stepUp.test(await getRawInput());
    if (asked) throw forbidden('step_up_required');
  }
  return auth;
}

/** Whether a token that descends from an API key may call the procedure (Meta['apiKey']). */
function apiKeyMay(meta: Meta | undefined, auth: AccessClaims): boolean {
  const rule = meta?.apiKey;
  if (rule === 'never') return false;
  if (rule === 'any') return true;
  if (rule) return rule.some((p) => auth.permissions.includes(p));
  return meta?.permission !== undefined;
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
    meta,
    async () => ctx.deps.hooks.beforeProcedure?.({ ctx, path, meta }),
    () => next(),
  ),
);

/**
 * next({ ctx: { auth } })'s type — ctx.auth not null for the resolvers — without tRPC's copy
 * of the whole context that passing a ctx costs: the claims authorized() returns are
 * ctx.auth itself.
 */
type NextAuthorized = () => Promise<MiddlewareResult<{ auth: AccessClaims }>>;

/** Authenticated; the policy in .meta() is enforced before the resolver runs. */
export const protectedProcedure = t.procedure.use(({ ctx, path, type, meta, next, getRawInput }) =>
  observed(
    ctx,
    path,
    type,
    meta,
    async () => {
      await ctx.deps.hooks.beforeProcedure?.({ ctx, path, meta });
      return authorized(ctx, meta, getRawInput);
    },
    () => (next as unknown as NextAuthorized)(),
  ),
);
for (const builder of [publicProcedure, protectedProcedure]) observing.add(builder._def.middlewares[0]!);

export { TRPCError };
