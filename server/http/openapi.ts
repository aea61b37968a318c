// The REST operations (every query and mutation of the router: restRoute in
// server/trpc/meta.ts) and their OpenAPI 3.1 document (GET /openapi.json). trpc-to-openapi
// generates the paths, input and output schemas from a view of the router whose meta this
// module derives (documentedView, server/trpc/invoke.ts); this module then adds what the
// generator does not know: the error body the server really sends and every status a call
// may answer with, Retry-After, the tags, `security: []` on public operations, and the
// downloads' media types. `npm run lint:openapi` holds it to Redocly's and Spectral's rules.
import type { TRPCError } from '@trpc/server';
import { generateOpenApiDocument, type OpenApiRouter } from 'trpc-to-openapi';
import { z } from 'zod';
import { FORBIDDEN_REASONS } from '../../shared/errors.ts';
import { appRouter } from '../routers/index.ts';
import { documentedView, type ProcedureInfo, procedures } from '../trpc/invoke.ts';
import { type Meta, restRoute } from '../trpc/meta.ts';
import { downloadFile } from './downloads.ts';
import { unwrapInput } from './rest-input.ts';

export const REST_PREFIX = '/api';

export interface RestProcedure {
  path: string;
  type: 'query' | 'mutation';
  method: 'GET' | 'POST';
  /** The route under REST_PREFIX: /mood/log. */
  url: `/${string}`;
  meta: Meta | undefined;
  input: z.ZodType | undefined;
  output: z.ZodType | undefined;
  /** Built on protectedProcedure: needs a bearer token. */
  authenticated: boolean;
  /** Its answer is a stream of chunks, downloaded as a file (server/http/downloads.ts). */
  download: boolean;
}

function restProcedure(info: ProcedureInfo): RestProcedure | null {
  const route = restRoute(info.path, info.type, info.meta);
  if (!route || info.type === 'subscription') return null;
  return {
    path: info.path,
    type: info.type,
    method: route.method,
    url: route.path,
    meta: info.meta,
    input: info.input,
    output: info.output,
    authenticated: info.authenticated,
    download: downloadFile(info.path, undefined) !== undefined,
  };
}

/** The procedures served over REST: every query and mutation without `restOff`. */
export function restProcedures(): RestProcedure[] {
  return procedures(appRouter).flatMap((info) => restProcedure(info) ?? []);
}

/** The queries and mutations kept off REST, with their reasons (none today). */
export function offRest(): { path: string; reason: string }[] {
  return procedures(appRouter).flatMap(({ path, type, meta }) =>
    type !== 'subscription' && meta?.restOff !== undefined ? [{ path, reason: meta.restOff }] : [],
  );
}

/** The areas (the router's first path segment) as the document's tags. */
const AREAS: Record<string, string> = {
  auth: 'Sign-in, tokens, account e-mails, second factors (auth.mfa.*) and sessions',
  users: "The caller's profile and address",
  subscriptions: 'Plans, the current subscription, checkout (Razorpay) and cancellation',
  mood: 'Mood entries',
  assessments: 'PHQ-9 and GAD-7 self-assessments',
  therapists: 'The therapist directory',
  therapy: 'Booking therapy sessions and session notes',
  crisis: "Crisis alerts for the care team (live changes: SSE on /trpc's crisis.onChange only)",
  admin: 'Administration: users, audit log, materialised views, the job queue',
  analytics: 'Platform figures for staff',
  export: "The caller's complete data as one JSON download",
  insights: "Trends and streaks from the caller's own entries",
  support: 'Support tickets and their threads',
  apiKeys: 'API keys for integrations',
  reports: "The caller's entries as JSON or CSV downloads",
  privacy: 'The privacy notice, access log and account erasure (DPDPA 2023)',
};
function areaOf(path: string): string {
  return path.split('.', 1)[0]!;
}

const RATE_LIMITS: Record<NonNullable<Meta['rateLimit']>, string> = {
  general: 'the general per-caller limit',
  login: 'the sign-in limit',
  register: 'the registration limit',
  checkout: 'the checkout limit',
  none: 'no limit',
};

/** The operation's description: what the router says of it, then its policy (docs/policy.md). */
function describe(p: RestProcedure): string {
  const m = p.meta;
  const parts = [`The tRPC ${p.type} \`${p.path}\` (docs/api.md).`];
  if (m?.openapi?.description) parts.unshift(m.openapi.description);
  if (!p.authenticated) parts.push('Public: no token needed.');
  else {
    const needs = ['a bearer token'];
    if (m?.permission) needs.push(`the permission \`${m.permission}\``);
    if (m?.feature) needs.push(`a plan with \`${m.feature}\``);
    if (m?.verifiedEmail) needs.push('a confirmed address');
    if (m?.stepUp) needs.push('a second factor verified in the last 15 minutes');
    parts.push(`Needs ${needs.join(', ')}.`);
    if (m?.beforeConsent) parts.push('Callable before the privacy notice is accepted.');
  }
  parts.push(`Rate limit: ${RATE_LIMITS[m?.rateLimit ?? 'general']}.`);
  if (p.download) parts.push('The answer streams as a file download (content-disposition: attachment).');
  return parts.join(' ');
}

/** The statuses a REST call of this procedure may answer with besides 200. */
export function errorStatuses(p: RestProcedure): number[] {
  const statuses = new Set<number>([429, 500, 503, 504]);
  // Every POST may carry a body that is not JSON; a query's input comes from its query string.
  if (p.method === 'POST' || p.input) statuses.add(400);
  if (p.method === 'POST') for (const s of [413, 415]) statuses.add(s);
  // A refused token, and sign-in refusals (wrong password: 401; mfa_required, suspended: 403).
  if (p.authenticated || areaOf(p.path) === 'auth') for (const s of [401, 403]) statuses.add(s);
  // What a use case refuses: the thing the input (or the caller) names is absent, or in conflict.
  if (p.authenticated || p.input) for (const s of [404, 409]) statuses.add(s);
  for (const s of p.meta?.openapi?.errors ?? []) statuses.add(s);
  return [...statuses].sort((a, b) => a - b);
}

const ERROR_CODES: Record<number, TRPCError['code']> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  500: 'INTERNAL_SERVER_ERROR',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};
const ERROR_RESPONSES: Record<number, { name: string; description: string; message: string }> = {
  400: {
    name: 'BadRequest',
    description:
      'The input is invalid (`message` names the field, `data.zodError` has the details), or the body is not JSON.',
    message: 'score: must be at most 10',
  },
  401: {
    name: 'Unauthorized',
    description: 'No token, or an invalid, expired or revoked one; for sign-in, wrong credentials.',
    message: 'Invalid or expired access token',
  },
  403: {
    name: 'Forbidden',
    description: `Refused by the policy; \`data.reason\` says why (${FORBIDDEN_REASONS.join(', ')}) and \`data.required\` what was needed.`,
    message: 'Your plan does not include this feature',
  },
  404: { name: 'NotFound', description: 'The thing the input names does not exist.', message: 'Not found' },
  409: {
    name: 'Conflict',
    description: 'The request conflicts with the current state (e.g. the slot is taken).',
    message: 'That time is already booked',
  },
  412: {
    name: 'PreconditionFailed',
    description: 'Payments are not enabled on this server.',
    message: 'Payments are not enabled on this server',
  },
  413: {
    name: 'PayloadTooLarge',
    description: 'The body is larger than 1 MB.',
    message: 'Request body is too large',
  },
  415: {
    name: 'UnsupportedMediaType',
    description: 'The body is not `application/json`.',
    message: 'Send a JSON body (content-type: application/json)',
  },
  429: {
    name: 'TooManyRequests',
    description: 'A rate limit: retry after `Retry-After` seconds (also `data.retryAfterSeconds`).',
    message: 'Too many requests; retry later',
  },
  500: {
    name: 'InternalServerError',
    description: 'An unexpected failure (details only in the server log).',
    message: 'Internal server error',
  },
  503: {
    name: 'ServiceUnavailable',
    description:
      'The database or the payment provider is unavailable, or the server is busy: retry after `Retry-After` seconds.',
    message: 'The server is busy; retry shortly',
  },
  504: {
    name: 'GatewayTimeout',
    description: 'The database took too long to answer.',
    message: 'The database took too long to answer',
  },
};
const RETRY_AFTER = new Set([429, 503]);

function errorComponents() {
  const schemas = {
    Error: {
      type: 'object',
      description:
        "The error body of every /api answer that is not 2xx: tRPC's error shape without its wrapper.",
      required: ['message', 'code', 'data'],
      properties: {
        message: { type: 'string', description: 'What went wrong, for people (a 400 names the field).' },
        code: {
          type: 'string',
          enum: [...new Set(Object.values(ERROR_CODES))],
          description: 'The tRPC code.',
        },
        data: { $ref: '#/components/schemas/ErrorData' },
      },
    },
    ErrorData: {
      type: 'object',
      description: "tRPC's error.data, as /trpc sends it.",
      required: ['code', 'httpStatus'],
      properties: {
        code: { type: 'string', description: 'The tRPC code again.' },
        httpStatus: { type: 'integer', description: 'The HTTP status.' },
        path: { type: 'string', description: 'The procedure (absent when no route matched).' },
        reason: {
          type: 'string',
          enum: [...FORBIDDEN_REASONS],
          description: 'A 403: why (docs/api.md, "Errors clients act on").',
        },
        required: { type: 'string', description: 'The permission, feature or notice version needed.' },
        retryAfterSeconds: { type: 'integer', description: 'A 429 or 503: when to retry.' },
        challengeToken: {
          type: 'string',
          description: 'mfa_required: the token auth.mfa.completeLogin takes.',
        },
        factors: {
          type: 'array',
          items: { type: 'string' },
          description: 'mfa_required: the factor kinds to complete the sign-in with.',
        },
        zodError: {
          description: 'A 400 for invalid input: z.flattenError of it; null otherwise.',
          oneOf: [
            { type: 'null' },
            {
              type: 'object',
              properties: {
                formErrors: { type: 'array', items: { type: 'string' } },
                fieldErrors: {
                  type: 'object',
                  additionalProperties: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          ],
        },
      },
    },
  };
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(ERROR_RESPONSES)) {
    const code = ERROR_CODES[Number(status)]!;
    const data: Record<string, unknown> = {
      code,
      httpStatus: Number(status),
      path: 'mood.log',
      zodError: null,
    };
    if (status === '403') Object.assign(data, { reason: 'missing_feature', required: 'therapist_booking' });
    if (RETRY_AFTER.has(Number(status))) data.retryAfterSeconds = 30;
    responses[r.name] = {
      description: r.description,
      ...(RETRY_AFTER.has(Number(status))
        ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } }
        : {}),
      content: {
        'application/json': {
          schema: { $ref: '#/components/schemas/Error' },
          example: { message: r.message, code, data },
        },
      },
    };
  }
  const headers = {
    RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
  };
  return { schemas, responses, headers };
}

type Operation = {
  security?: unknown[];
  responses: Record<string, unknown>;
  [key: string]: unknown;
};
type Document = ReturnType<typeof generateOpenApiDocument>;

let document: Document | undefined;
/** The OpenAPI 3.1 document (generated once, on first use). */
export function openApiDocument(): Document {
  document ??= build();
  return document;
}

function build(): Document {
  const served = new Map(restProcedures().map((p) => [p.path, p]));
  const view = documentedView(appRouter, (info) => {
    const p = served.get(info.path);
    if (!p) return null;
    return {
      meta: {
        ...p.meta,
        openapi: {
          method: p.method,
          path: p.url,
          summary: p.meta?.openapi?.summary ?? `${p.type === 'query' ? 'Read' : 'Call'} ${p.path}`,
          description: describe(p),
          tags: [areaOf(p.path)],
          protect: p.authenticated,
          // The error responses are this module's (below), not the generator's.
          errorResponses: [],
        },
      },
      // A download's answer is a file (downloadResponse below), not its chunks' schema.
      output: p.download ? z.unknown() : outputOf(p),
      ...(p.method === 'GET' && p.input ? { input: queryInput(p.input) } : {}),
    };
  });
  const doc = generateOpenApiDocument(view as OpenApiRouter, {
    title: 'MANAS360 API',
    version: '1.0.0',
    description:
      'REST for every query and mutation of the tRPC API (docs/api.md): a query is `GET /api/<area>/<procedure>` with its input in the query string, a mutation `POST` with a JSON body. Plain JSON, dates as ISO 8601 strings. Every error is `{message, code, data}` with `data.reason` for a 403.',
    baseUrl: REST_PREFIX,
    contact: { name: 'MANAS360 API team' },
    // Not open source (package.json: private): an SPDX reference of its own.
    license: { name: 'Proprietary', identifier: 'LicenseRef-MANAS360-Proprietary' },
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'The access token from auth.login (or auth.exchangeApiKey).',
      },
    },
  });
  const used = new Set<string>();
  for (const [url, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      const p = [...served.values()].find((s) => s.url === url && s.method === method.toUpperCase())!;
      used.add(areaOf(p.path));
      if (!p.authenticated) op.security = [];
      for (const status of errorStatuses(p))
        op.responses[String(status)] = { $ref: `#/components/responses/${ERROR_RESPONSES[status]!.name}` };
      if (p.download) op.responses['200'] = downloadResponse(p);
    }
  }
  const { schemas, responses, headers } = errorComponents();
  const components = doc.components as Record<string, Record<string, unknown> | undefined>;
  components.schemas = { ...components.schemas, ...schemas };
  // Every status the operations name (405, a wrong method, is in docs/api.md: not an operation's).
  components.responses = responses;
  components.headers = headers;
  doc.tags = Object.entries(AREAS)
    .filter(([name]) => used.has(name))
    .map(([name, description]) => ({ name, description }));
  return doc;
}

/** The procedure's output schema: every query and mutation has one (shared/contracts/). */
function outputOf(p: RestProcedure): z.ZodType {
  if (!p.output)
    throw new Error(`${p.path} has no output schema (its contract in shared/contracts/ names one)`);
  return p.output;
}

/**
 * A query's input as trpc-to-openapi's generator takes it: it accepts only string-like,
 * number, boolean and date fields in a query string, so a field of another kind (a union of
 * number literals: insights' `days`) is described through a pipe, which it lets through
 * and zod-openapi renders as the field's own schema. Only for the document: the procedure
 * keeps its schema.
 */
function queryInput(input: z.ZodType): z.ZodType {
  const object = unwrapInput(input);
  if (!(object instanceof z.ZodObject)) return input;
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(object.shape as Record<string, z.ZodType>))
    shape[key] = SCALAR_KINDS.has(unwrapInput(field)._zod.def.type) ? field : field.pipe(z.unknown());
  const documented = z.object(shape);
  return input.safeParse(undefined).success ? documented.optional() : documented;
}
const SCALAR_KINDS = new Set(['string', 'number', 'boolean', 'date', 'enum', 'array', 'bigint']);

function downloadResponse(p: RestProcedure) {
  const csv = p.path.startsWith('reports.');
  return {
    description: 'The file, streamed (content-disposition: attachment).',
    content: {
      'application/json': { schema: { type: 'object', description: 'The JSON document.' } },
      ...(csv
        ? { 'text/csv': { schema: { type: 'string', description: 'The CSV file (format=csv).' } } }
        : {}),
    },
  };
}
