// How a procedure is called — the one pipeline behind every way in: /trpc on the lean path
// (server/http/lean.ts) and on tRPC's Fastify adapter (server/http/trpc.ts), REST
// (server/http/rest.ts) and the downloads (server/http/downloads.ts). Those four translate
// their wire format only; everything else a call is happens here:
// - the context, from the HTTP request, by one function (contextFor);
// - the lookup of a procedure by path (procedureAt, procedures);
// - the call itself (callProcedure: tRPC's procedure caller, one middleware level at a time);
// - the one middleware level every procedure runs (observed, built into publicProcedure and
//   protectedProcedure in init.ts): rate limits and policy (prepare), replica routing, the
//   .output() check where the context asks for it, domain and database errors mapped to
//   their tRPC code, the call's log record and Retry-After (recordCall), metrics;
// - the error's shape and HTTP status (errorShapeOf, httpStatusOf) and the log of a failure
//   (logCallError).
//
// It is also the only module that reads tRPC's internals — `_def` of routers and procedures
// and `@trpc/server/unstable-core-do-not-import` — so an upgrade of tRPC has one place to
// check: test/trpc-internals.test.ts names the versions this was checked against (failing on
// any other), compares callProcedure with tRPC's own caller, and keeps `_def` out of every
// other file.
import { isDeepStrictEqual } from 'node:util';
import {
  type AnyTRPCProcedure,
  type AnyTRPCRouter,
  callTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  TRPCError,
  type TRPCProcedureType,
} from '@trpc/server';
import { getHTTPStatusCode, getHTTPStatusCodeFromError } from '@trpc/server/http';
import { type GetRawInputFn, middlewareMarker } from '@trpc/server/unstable-core-do-not-import';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { classifyDbError, queryScope } from '../../db/client.ts';
import type { Permission } from '../../shared/catalog.ts';
import { needsSecondFactor, steppedUp, withSecondFactor } from '../auth/factor-policy.ts';
import type { AccessClaims } from '../auth/tokens.ts';
import { DomainError, EXPIRED_TOKEN_MESSAGE, forbidden, unauthorized } from '../domain/errors.ts';
import { idempotent } from '../idempotency.ts';
import type { AppDeps } from '../services.ts';
import { type Context, createContext } from './context.ts';
import { edgeError } from './errors.ts';
import type { CallRecord } from './hooks.ts';
import type { Meta } from './meta.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The procedure calls this request made (set by contextFor; read by the request log). */
    calls?: CallRecord[];
  }
}

/**
 * The @trpc/server versions whose internals this module was read against (callRecursive and
 * createProcedureCaller in procedureBuilder.ts, `_def.procedures`, `_def.middlewares`,
 * `_def.lazy`, `_def._config`). test/trpc-internals.test.ts fails on any other installed
 * version: read tRPC's procedureBuilder.ts and router.ts of the new version, then add it.
 */
export const TRPC_VERSIONS_CHECKED = ['11.25.2'] as const;

// --- Procedures by path -----------------------------------------------------------------

/** What the rest of the code may know of a procedure. */
export interface ProcedureInfo {
  path: string;
  type: TRPCProcedureType;
  meta: Meta | undefined;
  /** The first .input() schema (REST converts query-string values by its field types). */
  input: z.ZodType | undefined;
  /** The .output() schema. */
  output: z.ZodType | undefined;
  /** Built on protectedProcedure: authentication and the .meta() policy run before it. */
  authenticated: boolean;
  /** Its .output() check is made by the pipeline (deferOutputChecks), not by tRPC's own level. */
  outputCheckDeferred: boolean;
}

/** A procedure's _def as tRPC 11 builds it (procedure._def is the object its caller closes over). */
interface ProcedureDef {
  type: TRPCProcedureType;
  meta?: Meta;
  inputs: unknown[];
  output?: unknown;
  middlewares: Array<Middleware & { _type?: string }>;
  caller?: unknown;
}
function defOf(proc: AnyTRPCProcedure): ProcedureDef {
  return proc._def as unknown as ProcedureDef;
}
function table(router: AnyTRPCRouter): Record<string, AnyTRPCProcedure> {
  return router._def.procedures as Record<string, AnyTRPCProcedure>;
}

/** The procedure at a dotted path in the router's flat table, or null. */
export function procedureAt(router: AnyTRPCRouter, path: string): AnyTRPCProcedure | null {
  const procs = table(router);
  return Object.hasOwn(procs, path) ? procs[path]! : null;
}

export function procedureType(proc: AnyTRPCProcedure): TRPCProcedureType {
  return defOf(proc).type;
}

/** Whether the router has lazily loaded parts (a path not in the table may still exist). */
export function hasLazyRouters(router: AnyTRPCRouter): boolean {
  return Object.keys(router._def.lazy).length > 0;
}

/** The router's root config: the transformer, the error formatter. */
export function routerConfig(router: AnyTRPCRouter): AnyTRPCRouter['_def']['_config'] {
  return router._def._config;
}

/** Every procedure of the router, by path, in the router's order. */
export function procedures(router: AnyTRPCRouter): ProcedureInfo[] {
  return Object.entries(table(router)).map(([path, proc]) => {
    const def = defOf(proc);
    const input = def.inputs[0];
    return {
      path,
      type: def.type,
      meta: def.meta,
      input: input instanceof z.ZodType ? input : undefined,
      output: def.output instanceof z.ZodType ? def.output : undefined,
      authenticated: def.middlewares[0] === pipelineLevels.protected,
      outputCheckDeferred:
        def.meta !== undefined &&
        outputSchemas.get(def.meta) === def.output &&
        !def.middlewares.some((m) => m._type === 'output'),
    };
  });
}

/**
 * The router as a document generator (trpc-to-openapi) reads it: only the procedures
 * `describe` keeps, each with the meta and output schema (and input schema, if any) it gives (the generator reads
 * `_def.procedures` and each procedure's `_def.meta`, `.inputs`, `.output`, `.type`).
 * Nothing is changed on the router itself.
 */
export function documentedView(
  router: AnyTRPCRouter,
  describe: (info: ProcedureInfo) => { meta: object; output: z.ZodType; input?: z.ZodType } | null,
): unknown {
  const procs: Record<string, { _def: ProcedureDef }> = {};
  for (const info of procedures(router)) {
    const described = describe(info);
    if (!described) continue;
    const def = defOf(table(router)[info.path]!);
    const inputs = described.input ? [described.input] : def.inputs;
    procs[info.path] = { _def: { ...def, inputs, meta: described.meta as Meta, output: described.output } };
  }
  return { _def: { procedures: procs } };
}

// --- The call -----------------------------------------------------------------------------

interface CallOptions {
  router: AnyTRPCRouter;
  path: string;
  type: TRPCProcedureType;
  ctx: unknown;
  getRawInput: GetRawInputFn;
  input?: unknown;
  signal: AbortSignal | undefined;
  batchIndex: number;
}
interface MiddlewareOptions extends CallOptions {
  meta: unknown;
  next(opts?: { ctx?: object; input?: unknown; getRawInput?: GetRawInputFn }): Promise<MiddlewareResult>;
}
type Middleware = (opts: MiddlewareOptions) => Promise<MiddlewareResult>;
type MiddlewareResult =
  | { ok: true; data: unknown; marker: unknown }
  | { ok: false; error: TRPCError; marker: unknown };

/**
 * One middleware level, exactly as tRPC's callRecursive builds it (the options of the call
 * plus meta, input and next; next's options override ctx (merged), input and getRawInput; a
 * throw becomes an error result), but with the language's object spread: tRPC's build copies
 * these objects with a helper that defines each key with Object.defineProperty
 * (_objectSpread2), ~13 % of a 0-query call's CPU.
 */
async function callRecursive(index: number, def: ProcedureDef, opts: CallOptions): Promise<MiddlewareResult> {
  try {
    const middleware = def.middlewares[index]!;
    return await middleware({
      ...opts,
      meta: def.meta,
      input: opts.input,
      next(nextOpts) {
        return callRecursive(index + 1, def, {
          ...opts,
          ctx: nextOpts?.ctx ? { ...(opts.ctx as object), ...nextOpts.ctx } : opts.ctx,
          input: nextOpts && 'input' in nextOpts ? nextOpts.input : opts.input,
          getRawInput: nextOpts?.getRawInput ?? opts.getRawInput,
        });
      },
    });
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker };
  }
}

/**
 * Calls a procedure found by procedureAt, whose type the caller has checked against the
 * request (callTRPCProcedure's own checks): tRPC's procedure caller (createProcedureCaller)
 * with the level above. A procedure with an experimental caller goes to tRPC itself.
 * Resolves to the data, or throws the call's TRPCError.
 */
export async function callProcedure(
  router: AnyTRPCRouter,
  proc: AnyTRPCProcedure,
  opts: {
    path: string;
    ctx: unknown;
    getRawInput: () => Promise<unknown>;
    batchIndex?: number;
    signal?: AbortSignal | undefined;
  },
): Promise<unknown> {
  const def = defOf(proc);
  const call: CallOptions = {
    router,
    path: opts.path,
    type: def.type,
    ctx: opts.ctx,
    getRawInput: opts.getRawInput,
    signal: opts.signal,
    batchIndex: opts.batchIndex ?? 0,
  };
  if (def.caller !== undefined || !Array.isArray(def.middlewares)) return callTRPCProcedure(call);
  const result = await callRecursive(0, def, call);
  if (!result)
    throw new TRPCError({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'No result from middlewares - did you forget to `return next()`?',
    });
  if (!result.ok) throw result.error;
  return result.data;
}

/** The outcome of invoke(): the data, or the error with its shape and HTTP status. */
export type Invocation =
  | { ok: true; data: unknown }
  | { ok: false; error: TRPCError; status: number; shape: ErrorShape };

/**
 * One call of the procedure at `path` with an input already in its JavaScript form (REST,
 * downloads): NOT_FOUND, METHOD_NOT_SUPPORTED (a procedure of another type than `type`)
 * and the call's own errors come back shaped, logged as the /trpc routes log them.
 */
export async function invoke(
  router: AnyTRPCRouter,
  ctx: Context,
  opts: { path: string; type: TRPCProcedureType; input: unknown },
): Promise<Invocation> {
  const proc = procedureAt(router, opts.path);
  let error: TRPCError;
  try {
    if (!proc)
      throw new TRPCError({ code: 'NOT_FOUND', message: `No procedure found on path "${opts.path}"` });
    if (procedureType(proc) !== opts.type)
      throw new TRPCError({
        code: 'METHOD_NOT_SUPPORTED',
        message: `Procedure at path "${opts.path}" is not a ${opts.type}`,
      });
    const data = await callProcedure(router, proc, {
      path: opts.path,
      ctx,
      getRawInput: async () => opts.input,
    });
    return { ok: true, data };
  } catch (cause) {
    error = getTRPCErrorFromUnknown(cause);
  }
  logCallError(ctx.deps, error, opts.path, ctx);
  const shape = errorShapeOf(router, { error, ctx, input: opts.input, path: opts.path, type: opts.type });
  return { ok: false, error, status: httpStatusOf(error), shape };
}

// --- Errors and responses -------------------------------------------------------------------

export type ErrorShape = ReturnType<typeof getErrorShape>;

/** The error's shape as the router's error formatter makes it (the /trpc body's `error`). */
export function errorShapeOf(
  router: AnyTRPCRouter,
  opts: {
    error: TRPCError;
    ctx: unknown;
    input: unknown;
    path: string | undefined;
    type: TRPCProcedureType | 'unknown';
  },
): ErrorShape {
  return getErrorShape({ config: router._def._config, ...opts });
}

/** The HTTP status of one error. */
export function httpStatusOf(error: TRPCError): number {
  return getHTTPStatusCodeFromError(error);
}

/** The HTTP status of a /trpc answer: one call's, or a batch's (207 when its calls' differ). */
export function responseStatus(body: unknown, errors: TRPCError[]): number {
  return getHTTPStatusCode(body as Parameters<typeof getHTTPStatusCode>[0], errors);
}

/** A failed call in the server log: unexpected errors only (the request log has the rest). */
export function logCallError(
  deps: AppDeps,
  error: TRPCError,
  path: string | undefined,
  ctx: Pick<Context, 'req'> | undefined,
): void {
  if (error.code === 'INTERNAL_SERVER_ERROR')
    deps.log.error({ err: error.cause ?? error, path, reqId: ctx?.req.requestId }, 'procedure failed');
}

/** The headers the calls of a request asked for (Retry-After), to send with its answer. */
export function responseHeaders(ctx: Pick<Context, 'resHeaders'> | undefined): Iterable<[string, string]> {
  return ctx?.resHeaders ?? [];
}

/**
 * The context of an HTTP request, for every way in: the verified token, the request's
 * identity, and the list its log line reads the calls from (server/http/request-log.ts).
 */
export async function contextFor(deps: AppDeps, req: FastifyRequest): Promise<Context> {
  const ctx = await createContext(deps, {
    ip: req.ip,
    requestId: req.id,
    userAgent: req.headers['user-agent'],
    cookie: req.headers.cookie,
    idempotencyKey: req.headers['idempotency-key'] as string | undefined,
    authorization: req.headers.authorization,
  });
  req.calls = ctx.calls;
  return ctx;
}

/**
 * What each call leaves for the HTTP layer: an entry in the context's call list for the
 * request's one log line (user, procedures, codes) and, for a refusal that says when to try
 * again, the Retry-After header (a batch answers with the longest wait among its calls).
 */
function recordCall(ctx: Context, path: string, result: CallResult): void {
  ctx.calls.push({ path, code: result.ok ? 'OK' : result.error.code, userId: ctx.auth?.sub });
  if (!result.ok) noteRetryAfter(ctx, result.error);
}

/**
 * A streamed result (export.mine, reports.*) that failed when its first chunk was read, after
 * the call itself had answered: the call's record and Retry-After as for a refused call.
 */
export function recordStreamError(ctx: Context, path: string, error: TRPCError): void {
  const record = ctx.calls.findLast((c) => c.path === path);
  if (record) record.code = error.code;
  else ctx.calls.push({ path, code: error.code, userId: ctx.auth?.sub });
  noteRetryAfter(ctx, error);
}

function noteRetryAfter(ctx: Pick<Context, 'resHeaders'>, error: TRPCError): void {
  const cause = error.cause;
  const seconds = cause instanceof DomainError ? cause.details?.retryAfterSeconds : undefined;
  if (seconds === undefined) return;
  // (A procedure may have set it already, in any letter case: keep one header.)
  const headers = ctx.resHeaders;
  const key = [...headers.keys()].find((k) => k.toLowerCase() === 'retry-after') ?? 'retry-after';
  headers.set(key, String(Math.max(Number(headers.get(key) ?? 0), seconds)));
}

// --- The pipeline level every procedure runs ------------------------------------------------

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
/** The first middleware of publicProcedure and protectedProcedure (each runs `observed`). */
const pipelineLevels: { public?: unknown; protected?: unknown } = {};

/** Marks the builders whose first middleware is the pipeline (init.ts, once). */
export function markPipelineBuilders(builders: { public: object; protected: object }): void {
  const first = (b: object) => (b as { _def: { middlewares: unknown[] } })._def.middlewares[0];
  pipelineLevels.public = first(builders.public);
  pipelineLevels.protected = first(builders.protected);
}
function runsPipeline(middleware: unknown): boolean {
  return middleware === pipelineLevels.public || middleware === pipelineLevels.protected;
}

/**
 * tRPC checks a procedure's result against its .output() schema at every call, in a
 * middleware level of its own (~1.3 µs for auth.me, ~8 µs for a 20-row mood.list, plus the
 * level's copies of the call's options). This takes tRPC's check out of the chain of every
 * procedure built on publicProcedure or protectedProcedure and lets `observed` make it where
 * the context asks for it (Context.outputCheck): REST calls, and every call with
 * OUTPUT_VALIDATION=all (the tests), which also refuses a result carrying fields the schema
 * does not declare — so the unchecked /trpc answer is the one the check would have given.
 * The schema stays on the procedure (the OpenAPI generator and RouterOutputs read it). A
 * procedure without its own meta object, or sharing one with another procedure, keeps
 * tRPC's check.
 */
export function deferOutputChecks<R extends AnyTRPCRouter>(r: R): R {
  for (const proc of Object.values(table(r))) {
    const { output, meta, middlewares } = defOf(proc);
    if (!(output instanceof z.ZodType) || !meta || outputSchemas.has(meta)) continue;
    const at = middlewares.findIndex((m) => m._type === 'output');
    if (at < 1 || !runsPipeline(middlewares[0])) continue;
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
    return { ok: false, error, marker: middlewareMarker } as unknown as R;
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
 * clean message instead of a 500, a write for a caller whose user is gone 401 — record it
 * for the request (recordCall) and report it (deps.hooks.onProcedure: metrics).
 */
export async function observed<P, R extends CallResult>(
  ctx: Context,
  path: string,
  type: TRPCProcedureType,
  meta: Meta | undefined,
  getRawInput: () => Promise<unknown>,
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
      // A mutation runs under its Idempotency-Key, if it has one (server/idempotency.ts).
      const attempt =
        type === 'mutation'
          ? () => idempotent(ctx, path, getRawInput, () => call(prepared))
          : () => call(prepared);
      const reads = ctx.deps.reads;
      const r =
        reads && type === 'query' ? await reads.run(ctx.auth?.sub, attempt, lostConnection) : await attempt();
      if (reads && type === 'mutation' && r.ok && ctx.auth) reads.noteWrite(ctx.auth.sub);
      return r;
    });
  } catch (cause) {
    // What tRPC makes of an error thrown by a middleware (callRecursive), so a refusal
    // here reads exactly like one from a later level.
    result = { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker } as unknown as R;
  }
  const schema = ctx.outputCheck !== 'off' && meta ? outputSchemas.get(meta) : undefined;
  if (schema) result = checkOutput(result, schema, ctx.outputCheck === 'strict');
  if (!result.ok) result = { ...result, error: edgeError(result.error, ctx.auth?.sub) };
  // An enclosing countQueries() (tests, jobs) sees this call's statements too.
  const outer = queryScope.getStore();
  if (outer) outer.queries += scope.queries;
  recordCall(ctx, path, result);
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
export async function authorized(
  ctx: Context,
  meta: Meta | undefined,
  getRawInput: () => Promise<unknown>,
): Promise<AccessClaims> {
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
  if (meta?.verifiedEmail && !auth.emailVerified) throw forbidden('email_unverified');
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
