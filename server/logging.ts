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
