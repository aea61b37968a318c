// One JSON log line per HTTP request (Fastify's logController, which replaces the
// deprecated disableRequestLogging option): request id, user id, procedure(s), result
// code(s), status and duration. Never the query string or body (a GET call's input
// travels in the query string) nor headers: no token, password, note or answer.
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { CallRecord } from '../trpc/hooks.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The procedure calls this request made (set in server/http/trpc.ts). */
    calls?: CallRecord[];
  }
}

/** Probes and scrapes are logged at debug, so they do not drown the requests. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const path = request.url.split('?', 1)[0]!;
    const calls = request.calls ?? [];
    const line = {
      method: request.method,
      path,
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      userId: calls.find((c) => c.userId)?.userId,
      procedure: calls.length > 0 ? calls.map((c) => c.path).join(',') : undefined,
      code: calls.length > 0 ? calls.map((c) => c.code).join(',') : undefined,
      err: error ?? undefined,
    };
    if (error) reply.log.error(line, 'request failed');
    else if (QUIET_PATHS.has(path)) reply.log.debug(line, 'request');
    else if (reply.statusCode >= 500) reply.log.error(line, 'request failed');
    else reply.log.info(line, 'request');
  }
}
