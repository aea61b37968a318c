// Errors the use cases throw, independent of the transport: the tRPC layer turns each
// into a TRPCError at the edge (server/trpc/errors.ts, toTRPCError). `details` travel to
// the client as error.data extras (reason, required, retryAfterSeconds: docs/api.md,
// "Errors clients act on").
import type { AppErrorData, ForbiddenReason } from '../../shared/errors.ts';

export type DomainErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_many_requests'
  | 'unavailable'
  | 'precondition_failed';

export type ErrorExtras = Omit<AppErrorData, 'zodError'>;

export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  readonly details: ErrorExtras | undefined;
  constructor(kind: DomainErrorKind, message: string, details?: ErrorExtras, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DomainError';
    this.kind = kind;
    this.details = details;
  }
}

const FORBIDDEN_MESSAGES: Record<ForbiddenReason, string> = {
  missing_permission: 'You do not have permission to do this',
  missing_feature: 'Your plan does not include this feature',
  insufficient_privilege: 'Your role is not allowed to do this',
  account_suspended: 'This account is suspended',
  privacy_notice_required: 'Accept the current privacy notice first (privacy.acceptNotice)',
  email_unverified: 'Confirm your email address first (the link we sent; auth.requestEmailVerification)',
  mfa_required: 'Complete the sign-in with a second factor (auth.mfa.completeLogin)',
  factor_required: 'Your role needs a second factor: enrol one, or verify it (auth.mfa.verify)',
  step_up_required: 'Verify your second factor again (auth.mfa.verify) to do this',
  api_key_not_allowed: "An API key's token cannot call this: sign in, or use a key scoped for it",
};

/** FORBIDDEN with a reason a client acts on (and the permission or feature required). */
export function forbidden(reason: ForbiddenReason, required?: string, message?: string): DomainError {
  return new DomainError(
    'forbidden',
    message ?? FORBIDDEN_MESSAGES[reason],
    required === undefined ? { reason } : { reason, required },
  );
}

/** FORBIDDEN without a reason code (e.g. not the session's therapist). */
export function notAllowed(message: string): DomainError {
  return new DomainError('forbidden', message);
}

/** What a refused token is told, whatever the reason (bad, expired, revoked, its user gone). */
export const EXPIRED_TOKEN_MESSAGE = 'Invalid or expired access token';

export function unauthorized(message = 'Authentication required'): DomainError {
  return new DomainError('unauthorized', message);
}

export function tooManyRequests(retryAfterSeconds: number): DomainError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return new DomainError('too_many_requests', `Too many requests; retry in ${seconds} s`, {
    retryAfterSeconds: seconds,
  });
}

export function notFound(what: string): DomainError {
  return new DomainError('not_found', `${what} not found`);
}

export function conflict(message: string): DomainError {
  return new DomainError('conflict', message);
}

export function badRequest(message: string): DomainError {
  return new DomainError('bad_request', message);
}

/** The server is not set up for this (e.g. payments not enabled): retrying will not help. */
export function preconditionFailed(message: string): DomainError {
  return new DomainError('precondition_failed', message);
}

/** A dependency is away: 503, with Retry-After when `retryAfterSeconds` says when to try again. */
export function unavailable(message: string, cause?: unknown, retryAfterSeconds?: number): DomainError {
  return new DomainError(
    'unavailable',
    message,
    retryAfterSeconds === undefined ? undefined : { retryAfterSeconds },
    { cause },
  );
}
