// One JSON log line per HTTP request (Fastify's logController, which replaces the
// deprecated disableRequestLogging option): request id, user id, procedure(s), result
// code(s), status and duration. Never the query string or body (a GET call's input
// travels in the query string) nor headers: no token, password, note or answer.
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { CallRecord } from '../trpc/hooks.ts';

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
    const level = error || reply.statusCode >= 500 ? 'error' : QUIET_PATHS.has(path) ? 'debug' : 'info';
    // Nothing is built for a line that will not be written (LOG_LEVEL=warn in load tests).
    const enabled = (reply.log as Partial<Pick<Logger, 'isLevelEnabled'>>).isLevelEnabled;
    if (enabled && !enabled.call(reply.log, level)) return;
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
    reply.log[level](line, level === 'error' ? 'request failed' : 'request');
  }
}
