// What each procedure call of an HTTP request leaves for the HTTP layer: an entry in the
// context's call list for the request's one log line (user, procedures, codes;
// server/http/request-log.ts) and, for TOO_MANY_REQUESTS, the Retry-After header. Both
// tRPC paths (lean and official) send the headers procedures put in ctx.resHeaders.
import { DomainError } from '../domain/errors.ts';
import type { ProcedureReport } from '../trpc/hooks.ts';

/** deps.hooks.onProcedure's HTTP part. */
export function noteCall(report: ProcedureReport): void {
  const ctx = report.ctx;
  ctx.calls.push({ path: report.path, code: report.code, userId: ctx.auth?.sub });
  const details = report.error?.cause instanceof DomainError ? report.error.cause.details : undefined;
  const seconds = details?.retryAfterSeconds;
  if (seconds !== undefined) {
    // A batch answers with the longest wait among its refused calls.
    // (A procedure may have set it already, in any letter case: keep one header.)
    const headers = ctx.resHeaders;
    const key = [...headers.keys()].find((k) => k.toLowerCase() === 'retry-after') ?? 'retry-after';
    headers.set(key, String(Math.max(Number(headers.get(key) ?? 0), seconds)));
  }
}
