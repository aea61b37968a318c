// Extension points around every procedure call (rate limits before, metrics after), wired
// by server/create-services.ts and run by the call pipeline (server/trpc/invoke.ts). Types only; they see
// the part of the context they need, so this module imports neither the context nor
// the services.
import type { TRPCError } from '@trpc/server';
import type { AccessClaims } from '../auth/tokens.ts';
import type { Meta } from './meta.ts';

/** One procedure call of an HTTP request, for its log line (server/http/request-log.ts). */
export interface CallRecord {
  path: string;
  code: string;
  userId: string | undefined;
}

/** What the hooks see of a call's context (server/trpc/context.ts). */
export interface CallContext {
  auth: AccessClaims | null;
  req: { ip: string };
  /** Response headers a procedure may set (e.g. Retry-After). */
  resHeaders: Map<string, string>;
  /** The calls of this request so far. */
  calls: CallRecord[];
}

export interface ProcedureReport {
  path: string;
  type: string;
  ok: boolean;
  code: string;
  /** The error a failed call answered with (e.g. TOO_MANY_REQUESTS with retryAfterSeconds). */
  error?: TRPCError | undefined;
  durationMs: number;
  queries: number;
  ctx: CallContext;
}

export interface ProcedureHooks {
  beforeProcedure?: (call: {
    ctx: Pick<CallContext, 'auth' | 'req'>;
    path: string;
    meta: Meta | undefined;
  }) => Promise<void> | void;
  onProcedure?: (report: ProcedureReport) => void;
}
