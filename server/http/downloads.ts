// Downloads of the streamed procedures as plain HTTP files, for browsers and curl:
//   GET /export                                   → export.mine (application/json)
//   GET /reports/{mood|assessments|sessions}?from=&to=&format=json|csv[&instrument=]
// (and the same at GET /api/export/mine, /api/reports/<kind>: server/http/rest.ts, whose
// error body is REST's).
// The route calls the tRPC procedure through the call pipeline (server/trpc/invoke.ts):
// the same context and zero-query auth from the Bearer token, the same .meta policy, input
// validation, rate limits, audit and request log record. It pulls the first chunk before
// answering, so a refusal (401, 403, 400, 429) is a proper status with tRPC's error body;
// after that the chunks stream as they are read, page by page, within the download budget
// (server/limits/downloads.ts: open downloads per user and process, backpressure down to the
// keyset cursor, an idle timeout). A failure mid-stream aborts the response (no final chunk),
// so a client never takes a truncated file for a complete one.
import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DownloadIdleError, type DownloadSlot } from '../limits/downloads.ts';
import { appRouter } from '../routers/index.ts';
import type { AppDeps } from '../services.ts';
import type { Context } from '../trpc/context.ts';
import {
  contextFor,
  type ErrorShape,
  errorShapeOf,
  httpStatusOf,
  invoke,
  logCallError,
  recordStreamError,
  responseHeaders,
} from '../trpc/invoke.ts';

type Query = Record<string, string | undefined>;

const REPORT_KINDS = ['mood', 'assessments', 'sessions'] as const;
type ReportKind = (typeof REPORT_KINDS)[number];

/** A query-string date (ISO 8601); anything else becomes an Invalid Date that zod refuses. */
const dateParam = (v: string | undefined) => (v === undefined ? undefined : new Date(v));

function reportInput(q: Query) {
  return {
    from: dateParam(q.from),
    to: dateParam(q.to),
    format: q.format as 'json' | 'csv' | undefined,
    ...(q.instrument === undefined ? {} : { instrument: q.instrument as 'PHQ9' | 'GAD7' }),
  };
}

export function registerDownloads(app: FastifyInstance, deps: AppDeps): void {
  // No HEAD routes: a HEAD would start a download (the hourly export, an audit entry).
  app.get('/export', { exposeHeadRoute: false }, (req, reply) =>
    serve(deps, req, reply, 'export.mine', undefined, downloadFile('export.mine', undefined)!),
  );
  app.get<{ Params: { kind: string }; Querystring: Query }>(
    '/reports/:kind',
    { exposeHeadRoute: false },
    (req, reply) => {
      const kind = req.params.kind as ReportKind;
      if (!REPORT_KINDS.includes(kind)) return reply.code(404).send({ error: 'not found' });
      const input = reportInput(req.query);
      const path = `reports.${kind}`;
      return serve(deps, req, reply, path, input, downloadFile(path, input)!);
    },
  );
}

async function serve(
  deps: AppDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  path: string,
  input: unknown,
  file: { type: string; name: string },
): Promise<FastifyReply> {
  const ctx = await contextFor(deps, req);
  const result = await invoke(appRouter, ctx, { path, type: 'query', input });
  if (!result.ok) return refuse(reply, ctx, result.status, result.shape);
  return streamDownload(deps, req, reply, ctx, { path, input, data: result.data, file, refuse });
}

/** The file a streamed procedure's answer is downloaded as, by path (GET /api/<path> too). */
export function downloadFile(path: string, input: unknown): { type: string; name: string } | undefined {
  if (path === 'export.mine')
    return {
      type: 'application/json',
      name: `manas360-export-${new Date().toISOString().slice(0, 10)}.json`,
    };
  const kind = path.startsWith('reports.') ? path.slice('reports.'.length) : '';
  if (!REPORT_KINDS.includes(kind as ReportKind)) return undefined;
  const csv = (input as { format?: string } | undefined)?.format === 'csv';
  return {
    type: csv ? 'text/csv; charset=utf-8' : 'application/json',
    name: `manas360-${kind}.${csv ? 'csv' : 'json'}`,
  };
}

/**
 * Streams a streamed procedure's answer (the data a successful invoke returned): its first
 * chunk is read before answering, so a refusal then is still a status and `refuse`'s error
 * body; then the chunks within the download budget.
 */
export async function streamDownload(
  deps: AppDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: Context,
  call: {
    path: string;
    input: unknown;
    data: unknown;
    file: { type: string; name: string };
    refuse: (reply: FastifyReply, ctx: Context, status: number, shape: ErrorShape) => FastifyReply;
  },
): Promise<FastifyReply> {
  const { path, input, file } = call;
  let chunks: AsyncIterator<string>;
  let first: IteratorResult<string>;
  // The download budget (server/limits/downloads.ts): a slot per user and process, released
  // when the body ends in any way. An anonymous call takes none: the procedure refuses it.
  let slot: DownloadSlot | undefined;
  try {
    if (ctx.auth) slot = deps.downloads.acquire(ctx.auth.sub);
    chunks = (call.data as AsyncIterable<string>)[Symbol.asyncIterator]();
    first = await chunks.next();
  } catch (cause) {
    slot?.release();
    // The procedure answered; reading its first chunk failed (a domain error, the database).
    const error = getTRPCErrorFromUnknown(cause);
    recordStreamError(ctx, path, error);
    logCallError(deps, error, path, ctx);
    const shape = errorShapeOf(appRouter, { error, ctx, input, path, type: 'query' });
    return call.refuse(reply, ctx, httpStatusOf(error), shape);
  }
  const body = deps.downloads.body(first.done ? undefined : first.value, chunks, slot ?? { release() {} });
  body.on('error', (err) =>
    err instanceof DownloadIdleError
      ? deps.log.info({ path, reqId: req.id }, 'download dropped: the reader was idle')
      : deps.log.error({ err, path, reqId: req.id }, 'download failed mid-stream'),
  );
  return reply
    .type(file.type)
    .header('content-disposition', `attachment; filename="${file.name}"`)
    .header('cache-control', 'no-store')
    .send(body);
}

/** tRPC's error body and status (and Retry-After), as the /trpc routes answer them. */
function refuse(reply: FastifyReply, ctx: Context, status: number, shape: ErrorShape): FastifyReply {
  for (const [name, value] of responseHeaders(ctx)) reply.header(name, value);
  return reply.code(status).send({ error: shape });
}
