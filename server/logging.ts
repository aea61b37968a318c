// The `err` serializer of every log line. A Drizzle query error carries the statement's
// parameters in its message, stack and `params` (a mood note, an assessment answer, a
// password hash...), and a driver error may carry the offending value in `detail`. The
// log keeps what an operator needs (type, message without parameters, SQL text with
// placeholders, Postgres code and constraint, stack frames) and nothing else.

export interface SafeError {
  type: string;
  message: string;
  code?: string;
  constraint?: string;
  stack?: string;
  cause?: SafeError;
}

export function serializeError(value: unknown, depth = 0): SafeError | unknown {
  if (!(value instanceof Error)) return value;
  const e = value as Error & {
    query?: unknown;
    params?: unknown;
    code?: unknown;
    constraint?: unknown;
    constraint_name?: unknown;
  };
  const message = typeof e.query === 'string' && 'params' in e ? `Failed query: ${e.query}` : e.message;
  const out: SafeError = { type: e.name, message };
  if (typeof e.code === 'string') out.code = e.code;
  const constraint = e.constraint ?? e.constraint_name;
  if (typeof constraint === 'string') out.constraint = constraint;
  const frames = e.stack
    ?.split('\n')
    .filter((l) => /^\s+at /.test(l))
    .join('\n');
  if (frames) out.stack = `${e.name}: ${message}\n${frames}`;
  if (e.cause !== undefined && depth < 4) out.cause = serializeError(e.cause, depth + 1) as SafeError;
  return out;
}

/**
 * The innermost cause's message: a driver's "connect ECONNREFUSED 127.0.0.1:5432" rather
 * than Drizzle's wrapper with the SQL text. For the one line a failed start prints.
 */
export function rootCauseMessage(err: unknown): string {
  let cause = err;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
}

/** The request id a per-request logger carries (requestChildLogger). */
const REQUEST_ID = Symbol('requestId');
/** Set on loggers whose lines take the request id from REQUEST_ID (createLogger's mixin). */
const WRITES_REQUEST_ID = Symbol('writesRequestId');

/**
 * pino's `mixin` for the server's logger: a line written through a per-request logger of
 * requestChildLogger gets its `reqId`, first after pid and hostname, where a pino child's
 * binding puts it.
 */
export function requestIdMixin(_obj: object, _level: number, logger: object): Record<string, unknown> {
  const id = (logger as { [REQUEST_ID]?: string })[REQUEST_ID];
  return id === undefined ? {} : { reqId: id };
}

/** Marks a logger made with requestIdMixin (requestChildLogger may then skip pino's child()). */
export function writesRequestId<T extends object>(logger: T): T {
  Object.defineProperty(logger, WRITES_REQUEST_ID, { value: true });
  return logger;
}

/**
 * Fastify's childLoggerFactory: the logger of one request. pino's child() serializes the
 * child's bindings ({ reqId }) through the redaction of every wildcard path of REDACT_PATHS
 * at every request (~3 % of a 0-query call's CPU), whether or not a line is ever written —
 * and a request id needs no redaction. For the server's logger (writesRequestId) the child
 * is the logger itself with the id attached (what pino's child is too: Object.create of its
 * parent), and requestIdMixin writes the id; any other case (options, other bindings, another
 * logger) is pino's child().
 */
export function requestChildLogger<L extends { child(bindings: object, options?: object): L }>(
  logger: L,
  bindings: Record<string, unknown>,
  options: object,
): L {
  let plain = (logger as { [WRITES_REQUEST_ID]?: boolean })[WRITES_REQUEST_ID] === true;
  for (const _ in options) plain = false;
  for (const key in bindings) if (key !== 'reqId' || typeof bindings[key] !== 'string') plain = false;
  if (!plain || bindings.reqId === undefined) return logger.child(bindings, options);
  const child = Object.create(logger) as L & { [REQUEST_ID]: string };
  child[REQUEST_ID] = bindings.reqId as string;
  return child;
}
