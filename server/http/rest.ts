// REST for clients that do not speak tRPC (the mobile apps, other languages): every query
// and mutation of the router (restRoute, server/trpc/meta.ts; `restOff` keeps one off, with
// its reason) is also served at /api/<area>/<procedure>: a query as GET with its input in
// the query string, a mutation as POST with a plain JSON body. Answers are plain JSON,
// dates ISO 8601 strings; export.mine and reports.* stream as file downloads, as GET /export
// does (server/http/downloads.ts). Subscriptions (crisis.onChange) stay SSE on /trpc.
// The OpenAPI 3.1 document (GET /openapi.json, server/http/openapi.ts) is rendered by
// Swagger UI from node_modules at GET /docs.
//
// A REST call IS the tRPC procedure, called through the call pipeline
// (server/trpc/invoke.ts) with the same context: the same .meta policy, rate limits, query
// counting, audit, input and output schemas, and error formatter. This file translates the
// wire format only: strings from a query string become the numbers (JSON's number grammar,
// as /trpc reads `?input=`), booleans and dates the schema wants, ISO strings in a body
// become dates; nothing else is coerced. A body is JSON (a BOM is dropped, an empty body is
// no input, as on /trpc). Every answer under /api that is not 2xx is one body,
// {message, code, data} (docs/api.md, "REST"): a refusal of the procedure, a body Fastify
// refuses (too large, another media type), a body that is not JSON, a method the route does
// not take (405 with Allow), a path no route has (404). trpc-to-openapi's own request
// handler is not used: it turns on zod coercion inside the shared schemas themselves (so
// /trpc would start accepting `true` as the number 1 once a REST call had run) and replaces
// the readable BAD_REQUEST message with "Input validation failed".
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import { TRPCError } from '@trpc/server';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
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
  responseHeaders,
} from '../trpc/invoke.ts';
import { CONSOLE_CSP } from './admin-console.ts';
import { downloadFile, streamDownload } from './downloads.ts';
import { openApiDocument, REST_PREFIX, type RestProcedure, restProcedures } from './openapi.ts';
import { restInput } from './rest-input.ts';

export const DOCS_PATH = '/docs';

/** A request's media type (`application/json` of `Application/JSON; charset=utf-8`). */
function mediaType(req: FastifyRequest): string | undefined {
  return req.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
}

/** A GET's input: its query string's fields; none is no input (as /trpc without ?input=). */
function queryInput(req: FastifyRequest): unknown {
  const query = req.query as Record<string, unknown>;
  return Object.keys(query).length === 0 ? undefined : query;
}

/** A POST's input: its JSON body (no body: no input), as /trpc reads one. */
function bodyInput(req: FastifyRequest): unknown {
  const body = req.body as string | undefined;
  // (tRPC's httpLink sends no body for an undefined input; an empty body is none.)
  if (body === undefined || body === '') return undefined;
  if (mediaType(req) !== 'application/json')
    throw new TRPCError({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'Send a JSON body (content-type: application/json)',
    });
  try {
    const text = body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
    return JSON.parse(text);
  } catch (cause) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: cause instanceof Error ? cause.message : 'Invalid JSON body',
      cause,
    });
  }
}

/** The contract's REST error body: {message, code, data} with data as /trpc sends it. */
function sendError(reply: FastifyReply, ctx: Context | undefined, status: number, shape: ErrorShape) {
  for (const [name, value] of responseHeaders(ctx)) reply.header(name, value);
  return reply.code(status).send({ message: shape.message, code: shape.data.code, data: shape.data });
}

async function answer(deps: AppDeps, procedure: RestProcedure, req: FastifyRequest, reply: FastifyReply) {
  const ctx = await contextFor(deps, req);
  // The answer REST documents: the result checked against the procedure's .output() schema.
  if (ctx.outputCheck === 'off') ctx.outputCheck = 'parse';
  const fromQuery = procedure.method === 'GET';
  let input: unknown;
  try {
    input = restInput(procedure, fromQuery ? queryInput(req) : bodyInput(req), fromQuery);
  } catch (cause) {
    const error = cause as TRPCError;
    logCallError(deps, error, procedure.path, ctx);
    const shape = errorShapeOf(appRouter, {
      error,
      ctx,
      input: undefined,
      path: procedure.path,
      type: procedure.type,
    });
    return sendError(reply, ctx, httpStatusOf(error), shape);
  }
  const result = await invoke(appRouter, ctx, { path: procedure.path, type: procedure.type, input });
  if (!result.ok) return sendError(reply, ctx, result.status, result.shape);
  const file = procedure.download ? downloadFile(procedure.path, input) : undefined;
  if (file)
    return streamDownload(deps, req, reply, ctx, {
      path: procedure.path,
      input,
      data: result.data,
      file,
      refuse: sendError,
    });
  for (const [name, value] of responseHeaders(ctx)) reply.header(name, value);
  return reply.send(result.data);
}

const CODE_OF_STATUS: Record<number, TRPCError['code']> = {
  400: 'BAD_REQUEST',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};
/** An error Fastify raised before the handler (body too large, media type), as a REST error. */
function refused(
  deps: AppDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  err: { statusCode?: number; message: string },
) {
  const code = CODE_OF_STATUS[err.statusCode ?? 500] ?? 'INTERNAL_SERVER_ERROR';
  const error = new TRPCError({ code, message: err.message, cause: err });
  logCallError(deps, error, req.url.split('?', 1)[0], undefined);
  const shape = errorShapeOf(appRouter, {
    error,
    ctx: undefined,
    input: undefined,
    path: undefined,
    type: 'unknown',
  });
  return sendError(reply, undefined, httpStatusOf(error), shape);
}

/** A path under /api that no route has: 404 in the REST error body. */
function noRoute(req: FastifyRequest, reply: FastifyReply) {
  const error = new TRPCError({
    code: 'NOT_FOUND',
    message: `No route ${req.method} ${req.url.split('?', 1)[0]} (see /openapi.json)`,
  });
  const shape = errorShapeOf(appRouter, {
    error,
    ctx: undefined,
    input: undefined,
    path: undefined,
    type: 'unknown',
  });
  return sendError(reply, undefined, 404, shape);
}

/** A method the route does not take: 405 with Allow, in the REST error body. */
function wrongMethod(procedure: RestProcedure, req: FastifyRequest, reply: FastifyReply) {
  const error = new TRPCError({
    code: 'METHOD_NOT_SUPPORTED',
    message: `Unsupported ${req.method}-request to ${procedure.type} procedure at path "${procedure.path}"`,
  });
  const shape = errorShapeOf(appRouter, {
    error,
    ctx: undefined,
    input: undefined,
    path: procedure.path,
    type: procedure.type,
  });
  reply.header('allow', procedure.method);
  return sendError(reply, undefined, httpStatusOf(error), shape);
}
/** The methods a REST route may be asked with besides its own (OPTIONS is CORS preflight's). */
const OTHER_METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Swagger UI's page: no inline script or style, so the console's strict CSP holds. */
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>MANAS360 API</title>
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', validatorUrl: null, deepLinking: true });\n`;
const SWAGGER_UI_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

export async function registerRest(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const served = restProcedures();
  await app.register(
    async (scope) => {
      // Bodies reach answer() as text (bodyInput parses them as /trpc does); what Fastify
      // refuses before a handler runs (bodyGuard's 413 and 415) gets the REST error body.
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) =>
        done(null, body),
      );
      scope.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) =>
        refused(deps, req, reply, err),
      );
      scope.setNotFoundHandler(noRoute);
      for (const procedure of served) {
        scope.route({
          method: procedure.method,
          url: procedure.url,
          exposeHeadRoute: false,
          handler: (req, reply) => answer(deps, procedure, req, reply),
        });
        scope.route({
          method: OTHER_METHODS.filter((m) => m !== procedure.method),
          url: procedure.url,
          handler: (req, reply) => wrongMethod(procedure, req, reply),
        });
      }
    },
    { prefix: REST_PREFIX },
  );
  app.get('/openapi.json', async (_req, reply) =>
    reply.header('cache-control', 'no-cache').send(openApiDocument()),
  );
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', (_req, reply, done) => {
        reply.header('content-security-policy', CONSOLE_CSP);
        done();
      });
      scope.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').send(DOCS_PAGE));
      scope.get('/init.js', (_req, reply) => reply.type('text/javascript; charset=utf-8').send(DOCS_INIT));
      await scope.register(fastifyStatic, {
        root: SWAGGER_UI_DIR,
        decorateReply: false,
        index: false,
        allowedPath: (path) => ['/swagger-ui.css', '/swagger-ui-bundle.js'].includes(path),
      });
    },
    { prefix: DOCS_PATH },
  );
}
