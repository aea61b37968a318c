// The lean tRPC request path: the same wire protocol as tRPC's fetch-based adapters (what
// @trpc/client's httpLink and httpBatchLink speak) without building a Fetch API
// Request/Response, Headers, AbortSignal and web streams for every call — about 300 µs of
// CPU per request on this machine. (It does parse the URL as tRPC does, a few µs, so the
// query reads the same: see searchParamsOf.) This file translates the wire format only:
// paths, batches, inputs, superjson, the answer's items and headers. The calls themselves —
// lookup, context, the pipeline's middleware level, error shapes and statuses — are the call
// pipeline's (server/trpc/invoke.ts), shared with the official adapter, REST and downloads.
// What it does not serve (subscriptions, streaming `trpc-accept: application/jsonl`,
// non-JSON bodies, HEAD and other methods, connectionParams) goes to the official adapter:
// see canServeLean. docs/decisions/lean-request-path.md explains the choice and what was
// measured.
import {
  type AnyTRPCProcedure,
  type AnyTRPCRouter,
  getTRPCErrorFromUnknown,
  type inferRouterContext,
  TRPCError,
  type TRPCProcedureType,
} from '@trpc/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  callProcedure,
  errorShapeOf,
  hasLazyRouters,
  procedureAt,
  procedureType,
  responseStatus,
  routerConfig,
} from '../trpc/invoke.ts';

export interface LeanErrorInfo<TContext> {
  error: TRPCError;
  path: string | undefined;
  input: unknown;
  ctx: TContext | undefined;
  type: TRPCProcedureType | 'unknown';
}

export interface LeanHandlerOptions<TRouter extends AnyTRPCRouter> {
  router: TRouter;
  maxBatchSize: number;
  createContext: (req: FastifyRequest) => Promise<inferRouterContext<TRouter>>;
  onError?: (info: LeanErrorInfo<inferRouterContext<TRouter>>) => void;
  /** Headers the procedures asked for (e.g. Retry-After), applied after the calls ran. */
  responseHeaders?: (ctx: inferRouterContext<TRouter>) => Iterable<[string, string]> | undefined;
}

/** A call's result; requestLevel: an error tRPC answers without the call's path and input. */
type Outcome = { error: TRPCError; requestLevel?: boolean } | { data: unknown };
// tRPC's TYPE_ACCEPTED_METHOD_MAP without method override.
const ACCEPTED_METHOD: Record<TRPCProcedureType, 'GET' | 'POST'> = {
  query: 'GET',
  mutation: 'POST',
  subscription: 'GET',
};

/**
 * The query string as tRPC's adapters read it: `new URL(req.url, base).searchParams`, so
 * a fragment is dropped, `+` is a space and a malformed escape is kept or replaced by
 * U+FFFD, not left undecoded as Fastify's querystring does. The base is fixed: the lean
 * path does not read the Host header (the official adapter answers 500 to a Host it
 * cannot parse). Undefined when the URL itself cannot be parsed.
 */
export function searchParamsOf(url: string): URLSearchParams | undefined {
  try {
    return new URL(url, 'http://localhost').searchParams;
  } catch {
    return undefined;
  }
}

function mediaType(req: FastifyRequest): string | undefined {
  const ct = req.headers['content-type'];
  return ct === undefined ? undefined : ct.split(';', 1)[0]!.trim().toLowerCase();
}

/**
 * True when the lean path serves this request exactly as tRPC would: GET (no body type, or
 * JSON) and POST with a JSON body, without streaming or connection params. Subscriptions
 * are detected later (by procedure type) and also handed over.
 */
export function canServeLean(req: FastifyRequest, query: URLSearchParams): boolean {
  const method = req.method;
  if (method !== 'GET' && method !== 'POST') return false;
  const type = mediaType(req);
  if (method === 'POST' ? type !== 'application/json' : type !== undefined && type !== 'application/json')
    return false;
  if (req.headers['trpc-accept'] !== undefined) return false;
  const accept = req.headers.accept;
  if (accept?.includes('application/jsonl')) return false;
  return !query.has('connectionParams');
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch (cause) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid URL-encoding in path "${path}"`, cause });
  }
}

/** A JSON body without the UTF-8 byte order mark a Fetch Request's text() drops (tRPC reads that). */
function withoutBom(body: string | undefined): string | undefined {
  return body?.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
}

function isStreamLike(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (Symbol.asyncIterator in value || typeof (value as { subscribe?: unknown }).subscribe === 'function')
  );
}

/** transformTRPCResponse for one item of the lean path's answers ({ result: { data } } or { error }). */
function wireItem(serialize: (value: unknown) => unknown, item: Item): Item {
  return 'error' in item
    ? { error: serialize(item.error) }
    : { result: { data: serialize(item.result.data) } };
}
type Item = { result: { data: unknown } } | { error: unknown };

/**
 * Serves one request, or returns false (having sent nothing) when it must go to the
 * official adapter: a subscription, or a path the router only knows lazily.
 */
export async function handleLean<TRouter extends AnyTRPCRouter>(
  opts: LeanHandlerOptions<TRouter>,
  req: FastifyRequest,
  reply: FastifyReply,
  rawPath: string,
  query: URLSearchParams,
): Promise<boolean> {
  type Ctx = inferRouterContext<TRouter>;
  const { router } = opts;
  const config = routerConfig(router);
  const headers: Record<string, string> = { vary: 'trpc-accept, accept', 'content-type': 'application/json' };
  const method = req.method;
  const isBatch = query.get('batch') === '1';
  let ctx: Ctx | undefined;
  let body: unknown;
  let status: number;
  try {
    // --- What tRPC's getRequestInfo checks before any context exists.
    const fullPath = decodePath(rawPath);
    const paths = isBatch ? fullPath.split(',') : [fullPath];
    if (isBatch && paths.length > opts.maxBatchSize)
      throw new TRPCError({ code: 'BAD_REQUEST', message: 'Batch call exceeds maximum size' });
    const procs = paths.map((p) => procedureAt(router, p));
    const types = new Set<TRPCProcedureType>();
    for (const p of procs) if (p) types.add(procedureType(p));
    if (types.has('subscription')) return false;
    if (procs.includes(null) && hasLazyRouters(router)) return false;
    if (types.size > 1)
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: `Cannot mix procedure types in call: ${[...types].join(', ')}`,
      });

    // --- Inputs: parsed once, on the first call that reads them, as tRPC does.
    let inputs: Record<number, unknown> | undefined;
    let inputError: TRPCError | undefined;
    const readInputs = (): Record<number, unknown> => {
      if (inputs) return inputs;
      if (inputError) throw inputError;
      try {
        const raw = method === 'GET' ? query.get('input') : withoutBom(req.body as string | undefined);
        const parsed: unknown = raw ? JSON.parse(raw) : undefined;
        const acc: Record<number, unknown> = Object.create(null);
        if (parsed !== undefined) {
          if (!isBatch) acc[0] = config.transformer.input.deserialize(parsed);
          else {
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
              throw new TRPCError({
                code: 'BAD_REQUEST',
                message: '"input" needs to be an object when doing a batch call',
              });
            for (let i = 0; i < paths.length; i++) {
              const one = (parsed as Record<number, unknown>)[i];
              if (one !== undefined) acc[i] = config.transformer.input.deserialize(one);
            }
          }
        }
        inputs = acc;
        return acc;
      } catch (cause) {
        inputError =
          cause instanceof TRPCError
            ? cause
            : new TRPCError({
                code: 'BAD_REQUEST',
                message: cause instanceof Error ? cause.message : 'Invalid input',
                cause,
              });
        throw inputError;
      }
    };

    // --- Context once per request; a failure becomes each call's error.
    let ctxError: TRPCError | undefined;
    try {
      ctx = await opts.createContext(req);
    } catch (cause) {
      ctxError = getTRPCErrorFromUnknown(cause);
    }

    const call = async (path: string, proc: AnyTRPCProcedure | null, index: number): Promise<Outcome> => {
      try {
        if (!proc)
          throw new TRPCError({ code: 'NOT_FOUND', message: `No procedure found on path "${path}"` });
        const type = procedureType(proc);
        if (ACCEPTED_METHOD[type] !== method) {
          headers.allow = ACCEPTED_METHOD[type];
          throw new TRPCError({
            code: 'METHOD_NOT_SUPPORTED',
            message: `Unsupported ${method}-request to ${type} procedure at path "${path}"`,
          });
        }
        if (ctxError) throw ctxError;
        const data = await callProcedure(router, proc, {
          path,
          ctx,
          getRawInput: async () => readInputs()[index],
          batchIndex: index,
        });
        if (isStreamLike(data)) {
          const error = new TRPCError({
            code: 'UNSUPPORTED_MEDIA_TYPE',
            message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
          });
          // tRPC answers a single call's refusal as a request-level error (no path, no input).
          if (!isBatch) {
            opts.onError?.({ error, path: undefined, input: undefined, ctx, type });
            return { error, requestLevel: true };
          }
          throw error;
        }
        return { data };
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        const type = proc ? procedureType(proc) : 'unknown';
        opts.onError?.({ error, path, input: inputs?.[index], ctx, type });
        return { error };
      }
    };

    const outcomes =
      paths.length === 1
        ? [await call(paths[0]!, procs[0]!, 0)]
        : await Promise.all(paths.map((p, i) => call(p, procs[i]!, i)));
    const errors: TRPCError[] = [];
    const items = outcomes.map((o, i): Item => {
      if ('data' in o) return { result: { data: o.data } };
      errors[i] = o.error;
      const proc = procs[i];
      return {
        error: errorShapeOf(router, {
          ctx,
          error: o.error,
          input: o.requestLevel ? undefined : inputs?.[i],
          path: o.requestLevel ? undefined : paths[i],
          type: proc ? procedureType(proc) : 'unknown',
        }),
      };
    });
    body = isBatch ? items : items[0];
    status = responseStatus(body, errors);
  } catch (cause) {
    // A request-level failure (bad path encoding, batch too large, mixed types): one
    // error object, no context, as tRPC answers it.
    const error = getTRPCErrorFromUnknown(cause);
    opts.onError?.({ error, path: undefined, input: undefined, ctx: undefined, type: 'unknown' });
    body = {
      error: errorShapeOf(router, {
        ctx: undefined,
        error,
        input: undefined,
        path: undefined,
        type: 'unknown',
      }),
    };
    status = responseStatus(body, [error]);
  }
  if (ctx !== undefined && opts.responseHeaders) {
    const extra = opts.responseHeaders(ctx);
    if (extra) for (const [k, v] of extra) headers[k.toLowerCase()] = v;
  }
  const serialize = config.transformer.output.serialize;
  const json = JSON.stringify(
    Array.isArray(body)
      ? body.map((item: Item) => wireItem(serialize, item))
      : wireItem(serialize, body as Item),
  );
  // A Buffer, so Fastify sends the content-type as set (a string would gain "; charset=utf-8").
  await reply.code(status).headers(headers).send(Buffer.from(json));
  return true;
}
