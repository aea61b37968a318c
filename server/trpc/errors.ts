// The edge between use cases and tRPC: domain errors (server/domain/errors.ts) and
// database failures become TRPCErrors here, once, in the call pipeline's middleware level
// (observed, server/trpc/invoke.ts). The extra fields (docs/api.md, "Errors clients act on")
// stay on the cause (the DomainError) and the error formatter copies them into error.data.
import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { ZodError, z } from 'zod';
import { classifyDbError, findPgError } from '../../db/client.ts';
import { DomainError, type DomainErrorKind, EXPIRED_TOKEN_MESSAGE, unauthorized } from '../domain/errors.ts';

/** Retry-After of a 503 for want of the database (down, restarting, or every connection busy). */
export const DATABASE_RETRY_AFTER_S = 1;

const CODES: Record<DomainErrorKind, TRPC_ERROR_CODE_KEY> = {
  bad_request: 'BAD_REQUEST',
  unauthorized: 'UNAUTHORIZED',
  forbidden: 'FORBIDDEN',
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  too_many_requests: 'TOO_MANY_REQUESTS',
  unavailable: 'SERVICE_UNAVAILABLE',
  precondition_failed: 'PRECONDITION_FAILED',
};

/**
 * The error a failed call answers with: a domain error as its tRPC code (its details
 * stay on the cause, which the error formatter copies into error.data), a database
 * infrastructure failure as 503/504 (databaseFailure), a write for a caller whose user
 * is gone as 401 (callerGone), anything else as it is.
 */
export function edgeError(error: TRPCError, callerId: string | undefined): TRPCError {
  const cause = error.cause;
  if (cause instanceof DomainError && error.code === 'INTERNAL_SERVER_ERROR') return toTRPCError(cause);
  return databaseFailure(error) ?? callerGone(error, callerId) ?? error;
}

/** A domain error as the TRPCError of its kind (the rate limits, a tRPC hook, throw these). */
export function toTRPCError(error: DomainError): TRPCError {
  return new TRPCError({ code: CODES[error.kind], message: error.message, cause: error });
}

/**
 * A streamed result (export.mine, reports.*): its chunks are produced after the pipeline's
 * middleware returned, so a domain error or a database failure (a busy pool: 503) thrown
 * while it is read is mapped here instead.
 */
export async function* edgeStream<T>(chunks: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* chunks;
  } catch (err) {
    if (err instanceof DomainError) throw toTRPCError(err);
    throw databaseFailure(new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: err })) ?? err;
  }
}

/**
 * Database infrastructure failures as clean client errors: no free pooled connection
 * within DATABASE_POOL_WAIT_MS or a lost connection → SERVICE_UNAVAILABLE (503), a
 * statement timeout → GATEWAY_TIMEOUT (504). Never the SQL or the driver's message.
 */
function databaseFailure(error: TRPCError): TRPCError | undefined {
  const kind = classifyDbError(error.cause);
  if (!kind) return undefined;
  if (kind === 'invalid_text')
    return new TRPCError({
      code: 'BAD_REQUEST',
      message: 'Text must not contain NUL characters',
      cause: error.cause,
    });
  if (kind === 'statement_timeout')
    return new TRPCError({
      code: 'GATEWAY_TIMEOUT',
      message: 'The database took too long to answer',
      cause: error.cause,
    });
  const message =
    kind === 'pool_busy' ? 'The server is busy; retry shortly' : 'The database is unavailable; retry shortly';
  // With Retry-After (server/trpc/invoke.ts) and error.data.retryAfterSeconds: a client (and a
  // balancer) knows to try again, and when. The driver's error stays the cause, for the log.
  const unavailable = new DomainError(
    'unavailable',
    message,
    { retryAfterSeconds: DATABASE_RETRY_AFTER_S },
    {
      cause: error.cause,
    },
  );
  return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message, cause: unavailable });
}

type Issue = z.core.$ZodIssue;

/** The value at an issue's path in the input (undefined where the input has nothing). */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const article = (word: string) => (/^[aeiou]/i.test(word) ? 'an' : 'a');

/**
 * One issue as a short phrase: "must be at most 10", "is required", "expected a number",
 * "unknown field x". Whether a value was given is read from the input itself: zod 4 leaves
 * `issue.input` out unless asked to report it, so its absence says nothing.
 */
function describeIssue(issue: Issue, input: unknown): string {
  const unit = (origin: string) =>
    origin === 'string' ? ' characters' : origin === 'array' || origin === 'set' ? ' items' : '';
  switch (issue.code) {
    case 'too_big':
      return `must be at most ${String(issue.maximum)}${unit(issue.origin)}`;
    case 'too_small':
      return `must be at least ${String(issue.minimum)}${unit(issue.origin)}`;
    case 'invalid_type':
      return valueAt(input, issue.path) === undefined
        ? 'is required'
        : `expected ${article(issue.expected)} ${issue.expected}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    case 'invalid_union':
      return 'does not match any allowed shape';
    default:
      // Custom refinements carry their own phrase ("must start on a whole UTC hour").
      return issue.message;
  }
}

/**
 * A BAD_REQUEST's message: a short sentence naming the field, e.g. `score: must be at most 10`
 * or `score: expected a number` (and how many other problems there are); the structured
 * details stay in data.zodError. `input` is the input the schema refused.
 */
export function inputErrorMessage(error: ZodError, input: unknown): string {
  const [first, ...rest] = error.issues;
  if (!first) return 'Invalid input';
  const field = first.path.map(String).join('.');
  const phrase = describeIssue(first, input);
  const sentence = field ? `${field}: ${phrase}` : `input: ${phrase}`;
  return rest.length ? `${sentence} (and ${rest.length} more)` : sentence;
}

/**
 * A write that names the caller's own id and fails because no such user exists (deleted,
 * or never in this database): the token outlived its user, so UNAUTHORIZED as for a
 * revoked token, not a 500. Read from the error alone: no query on the auth path.
 */
function callerGone(error: TRPCError, callerId: string | undefined): TRPCError | undefined {
  const pg = findPgError(error.cause);
  if (callerId === undefined || pg?.code !== '23503') return undefined;
  const constraint = pg.constraint ?? pg.constraint_name ?? '';
  if (!constraint.endsWith('_users_id_fk') || !pg.detail?.includes(`(${callerId})`)) return undefined;
  return toTRPCError(unauthorized(EXPIRED_TOKEN_MESSAGE));
}
