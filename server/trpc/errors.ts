// Errors clients act on (API.md, "Errors clients act on"). The extra fields travel as
// the TRPCError's cause and the error formatter copies them into error.data.
import { TRPCError } from '@trpc/server';
import { classifyDbError } from '../../db/client.ts';
import type { AppErrorData, ForbiddenReason } from '../../shared/errors.ts';

export class ErrorDetails extends Error {
  constructor(readonly details: Omit<AppErrorData, 'zodError'>) {
    super('error details');
  }
}

export function forbidden(reason: ForbiddenReason, required?: string, message?: string): TRPCError {
  return new TRPCError({
    code: 'FORBIDDEN',
    message: message ?? FORBIDDEN_MESSAGES[reason],
    cause: new ErrorDetails(required === undefined ? { reason } : { reason, required }),
  });
}

const FORBIDDEN_MESSAGES: Record<ForbiddenReason, string> = {
  missing_permission: 'You do not have permission to do this',
  missing_feature: 'Your plan does not include this feature',
  insufficient_privilege: 'Your role is not allowed to do this',
  account_suspended: 'This account is suspended',
};

export function unauthorized(message = 'Authentication required'): TRPCError {
  return new TRPCError({ code: 'UNAUTHORIZED', message });
}

export function tooManyRequests(retryAfterSeconds: number): TRPCError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new TRPCError({
    code: 'TOO_MANY_REQUESTS',
    message: `Too many requests; retry in ${seconds} s`,
    cause: new ErrorDetails({ retryAfterSeconds: seconds }),
  });
}

export function notFound(what: string): TRPCError {
  return new TRPCError({ code: 'NOT_FOUND', message: `${what} not found` });
}

export function conflict(message: string): TRPCError {
  return new TRPCError({ code: 'CONFLICT', message });
}

/**
 * Database infrastructure failures as clean client errors: no free pooled connection
 * within DATABASE_POOL_WAIT_MS or a lost connection → SERVICE_UNAVAILABLE (503), a
 * statement timeout → GATEWAY_TIMEOUT (504). Never the SQL or the driver's message.
 */
export function databaseFailure(error: TRPCError): TRPCError | undefined {
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
  return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message, cause: error.cause });
}
