// What each procedure call of an HTTP request leaves for the HTTP layer: an entry for
// the request's one log line (user, procedures, codes; server/http/request-log.ts) and,
// for TOO_MANY_REQUESTS, the Retry-After header. Both tRPC paths (lean and official)
// send the headers procedures put in ctx.resHeaders.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ProcedureReport } from '../deps.ts';
import { ErrorDetails } from '../trpc/errors.ts';

export interface CallRecord {
  path: string;
  code: string;
  userId: string | undefined;
}

/** The calls of the HTTP request being served (entered per request by server/app.ts). */
export const requestCalls = new AsyncLocalStorage<CallRecord[]>();

/** deps.hooks.onProcedure's HTTP part. */
export function noteCall(report: ProcedureReport): void {
  requestCalls.getStore()?.push({ path: report.path, code: report.code, userId: report.ctx.auth?.sub });
  const details = report.error?.cause instanceof ErrorDetails ? report.error.cause.details : undefined;
  const seconds = details?.retryAfterSeconds;
  if (seconds !== undefined) {
    // A batch answers with the longest wait among its refused calls.
    // (A procedure may have set it already, in any letter case: keep one header.)
    const headers = report.ctx.resHeaders;
    const key = [...headers.keys()].find((k) => k.toLowerCase() === 'retry-after') ?? 'retry-after';
    headers.set(key, String(Math.max(Number(headers.get(key) ?? 0), seconds)));
  }
}
