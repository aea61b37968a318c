// REST for clients that do not speak tRPC (the mobile apps, other languages): every
// procedure whose .meta() has `openapi` (server/trpc/meta.ts) is also served at
// /api/<area>/<procedure>: a query as GET with its input in the query string, a mutation
// as POST with a plain JSON body. Answers are plain JSON, dates ISO 8601 strings.
// The OpenAPI 3.1 document is generated from the router by trpc-to-openapi
// (GET /openapi.json) and rendered by Swagger UI from node_modules at GET /docs.
//
// A REST call IS the tRPC procedure, called through the call pipeline
// (server/trpc/invoke.ts) with the same context: the same .meta policy, rate limits, query
// counting, audit, input and output schemas, and error formatter. This file translates the
// wire format only: strings from a query string become the numbers (JSON's number grammar,
// as /trpc reads `?input=`), booleans and dates the schema wants, ISO strings in a body
// become dates; nothing else is coerced. A body is JSON (a BOM is dropped, an empty body is
// no input, as on /trpc); a method the route does not take answers 405 with Allow. trpc-to-openapi's own
// request handler is not used: it turns on zod coercion inside the shared schemas
// themselves (so /trpc would start accepting `true` as the number 1 once a REST call had
// run) and replaces the readable BAD_REQUEST message with "Input validation failed".
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import { TRPCError } from '@trpc/server';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { generateOpenApiDocument, type OpenApiRouter } from 'trpc-to-openapi';
import { z } from 'zod';
import { appRouter } from '../routers/index.ts';
import type { AppDeps } from '../services.ts';
import type { Context } from '../trpc/context.ts';
import {
  contextFor,
  errorShapeOf,
  httpStatusOf,
  invoke,
  logCallError,
  procedures,
  responseHeaders,
} from '../trpc/invoke.ts';
import type { Meta } from '../trpc/meta.ts';
import { CONSOLE_CSP } from './admin-console.ts';

export const REST_PREFIX = '/api';
export const DOCS_PATH = '/docs';

type ProcedureType = 'query' | 'mutation';
interface RestProcedure {
  path: string;
  type: ProcedureType;
  openapi: NonNullable<Meta['openapi']>;
  /** The JSON type each top-level input field needs converting to: number, boolean, date, array. */
  fields: Map<string, string>;
}
/** The procedures served over REST, from the router's .meta(). */
export function restProcedures(): RestProcedure[] {
  return procedures(appRouter).flatMap(({ path, type, meta, input }) => {
    const openapi = meta?.openapi;
    if (!openapi || type === 'subscription') return [];
    return [{ path, type, openapi, fields: fieldKinds(input) }];
  });
}

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch']);
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (WRAPPERS.has(s._zod.def.type)) s = (s._zod.def as unknown as { innerType: z.ZodType }).innerType;
  if (s._zod.def.type === 'pipe') return unwrap((s._zod.def as unknown as { in: z.ZodType }).in);
  return s;
}
function fieldKinds(input: z.ZodType | undefined): Map<string, string> {
  const kinds = new Map<string, string>();
  const object = input && unwrap(input);
  if (!(object instanceof z.ZodObject)) return kinds;
  for (const [key, field] of Object.entries(object.shape as Record<string, z.ZodType>))
    kinds.set(key, unwrap(field)._zod.def.type);
  return kinds;
}

const isoDateTime = z.iso.datetime({ offset: true });
/** A number as JSON writes one (what `?input=` on /trpc takes): `10`, `-2.5`, `1e1`; not `+5`, `05`, ` 5`. */
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * The procedure input from a query string (every value a string) or a JSON body: numbers,
 * booleans and ISO dates converted where the schema wants them; anything else is passed as
 * it is, so the schema refuses it with its own message.
 */
export function restInput(procedure: RestProcedure, raw: unknown, fromQuery: boolean): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const input: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const kind = procedure.fields.get(key);
    if (kind === 'date' && typeof value === 'string' && isoDateTime.safeParse(value).success)
      input[key] = new Date(value);
    else if (fromQuery && kind === 'number' && typeof value === 'string' && NUMBER.test(value))
      input[key] = Number(value);
    else if (fromQuery && kind === 'boolean' && (value === 'true' || value === 'false'))
      input[key] = value === 'true';
    else if (fromQuery && kind === 'array' && !Array.isArray(value)) input[key] = [value];
    else input[key] = value;
  }
  return input;
}

let document: ReturnType<typeof generateOpenApiDocument> | undefined;
/** The OpenAPI 3.1 document (generated once, on first use). */
export function openApiDocument(): ReturnType<typeof generateOpenApiDocument> {
  document ??= describeErrors(
    generateOpenApiDocument(appRouter as unknown as OpenApiRouter, {
      title: 'MANAS360 API',
      version: '1.0.0',
      description:
        'REST for the tRPC procedures of docs/api.md: plain JSON, dates as ISO 8601 strings. ' +
        'Errors carry `data.reason` and `data.required` (e.g. missing_feature) as on /trpc; a 400 names the field in `message`, details in `data.zodError`.',
      baseUrl: REST_PREFIX,
    }),
  );
  return document;
}

/** trpc-to-openapi's error bodies ({message, code}), plus the `data` this server sends. */
function describeErrors<T extends { components?: { schemas?: Record<string, unknown> } }>(doc: T): T {
  const data = {
    type: 'object',
    description: "tRPC's error data: the reason a request was refused and what it needed",
    properties: {
      code: { type: 'string' },
      httpStatus: { type: 'integer' },
      path: { type: 'string' },
      reason: {
        type: 'string',
        description: 'e.g. missing_feature, missing_permission, privacy_notice_required',
      },
      required: { type: 'string', description: 'the feature, permission or notice version needed' },
      retryAfterSeconds: { type: 'integer' },
      zodError: {
        type: ['object', 'null'],
        description: 'for a 400: z.flattenError of the input (formErrors, fieldErrors)',
      },
    },
  };
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {}))
    if (name.startsWith('error.')) {
      const s = schema as { properties?: Record<string, unknown> };
      s.properties = { ...s.properties, data };
    }
  return doc;
}

/** A request's media type (`application/json` of `Application/JSON; charset=utf-8`). */
function mediaType(req: FastifyRequest): string | undefined {
  return req.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
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
function sendError(
  reply: FastifyReply,
  ctx: Context | undefined,
  error: TRPCError,
  shape: { message: string; data: unknown },
) {
  for (const [name, value] of responseHeaders(ctx)) reply.header(name, value);
  return reply.code(httpStatusOf(error)).send({ message: shape.message, code: error.code, data: shape.data });
}

async function answer(deps: AppDeps, procedure: RestProcedure, req: FastifyRequest, reply: FastifyReply) {
  const ctx = await contextFor(deps, req);
  // The answer REST documents: the result checked against the procedure's .output() schema.
  if (ctx.outputCheck === 'off') ctx.outputCheck = 'parse';
  const fromQuery = procedure.openapi.method === 'GET';
  let input: unknown;
  try {
    input = restInput(procedure, fromQuery ? req.query : bodyInput(req), fromQuery);
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
    return sendError(reply, ctx, error, shape);
  }
  const result = await invoke(appRouter, ctx, { path: procedure.path, type: procedure.type, input });
  if (!result.ok) return sendError(reply, ctx, result.error, result.shape);
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
  return sendError(reply, undefined, error, shape);
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
  reply.header('allow', procedure.openapi.method);
  return sendError(reply, undefined, error, shape);
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
      for (const procedure of served) {
        scope.route({
          method: procedure.openapi.method,
          url: procedure.openapi.path,
          exposeHeadRoute: false,
          handler: (req, reply) => answer(deps, procedure, req, reply),
        });
        scope.route({
          method: OTHER_METHODS.filter((m) => m !== procedure.openapi.method),
          url: procedure.openapi.path,
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
