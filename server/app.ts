// The HTTP server: an index of links at / (server/http/home.ts), tRPC at /trpc, REST at /api
// with its OpenAPI document (/openapi.json, /docs: server/http/rest.ts), health (/healthz),
// readiness (/readyz: the database; Redis reported, cached 1 s), Prometheus
// metrics (/metrics, with METRICS_TOKEN only), the JWKS, file downloads (/export, /reports/*), the payment webhook
// (/webhooks/razorpay) and the admin console (/admin, server/http/admin-console.ts), behind the
// production hardening: security headers,
// a CORS allowlist, compression, a 1 MB body limit enforced before a body is read (and only
// JSON bodies accepted: server/http/body-guard.ts), header/request timeouts, request ids
// and one JSON log line per request. Graceful shutdown lives in server/http/shutdown.ts.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIPv6 } from 'node:net';
import { constants as zlib } from 'node:zlib';
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import helmet from 'helmet';
import { registerAdminConsole } from './http/admin-console.ts';
import { BODY_LIMIT_BYTES, bodyGuard, closeOnUnreadBody } from './http/body-guard.ts';
import { registerDownloads } from './http/downloads.ts';
import { registerHome } from './http/home.ts';
import { RequestLog } from './http/request-log.ts';
import { registerRest } from './http/rest.ts';
import { registerTrpc } from './http/trpc.ts';
import { registerWebhooks } from './http/webhooks.ts';
import { requestChildLogger } from './logging.ts';
import type { AppDeps } from './services.ts';

/** A Host header: a name (underscores allowed, as container names have them) or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const VALID_HOST =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?|\[([0-9A-Fa-f:.]+)\])(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|\d{1,4}))?$/;

/** A Host header a URL can be built from: VALID_HOST, and inside brackets a real IPv6 address (not `[1::2::3]`). */
export function validHost(host: string): boolean {
  const match = VALID_HOST.exec(host);
  return match !== null && (match[1] === undefined || isIPv6(match[1]));
}

/** Longest a client may take to send its headers, and its whole request. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/** Node's default: larger headers (e.g. a 20 KB Authorization) get 431 before any work. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Responses smaller than this are sent uncompressed (not worth the CPU). */
export const COMPRESS_THRESHOLD_BYTES = 1024;
/**
 * The headers helmet's default configuration sets, captured once at start: all of them over
 * HTTPS; over plain HTTP (localhost, an internal network) without HSTS and CSP's
 * upgrade-insecure-requests, which would send a browser to an HTTPS port nobody listens on.
 */
const SECURITY_HEADERS = {
  https: helmetHeaders(),
  http: helmetHeaders({
    strictTransportSecurity: false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  }),
};
function helmetHeaders(options?: Parameters<typeof helmet>[0]): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, () => {});
  return headers;
}
/** /readyz gives up on a dependency that does not answer within this. */
const READY_CHECK_TIMEOUT_MS = 2000;
/** How long a readiness result is reused (load balancers probe every few seconds). */
export const READY_CACHE_MS = 1000;

/** Authorization: Bearer <token>, compared in constant time. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(token));
}

declare module 'fastify' {
  interface FastifyInstance {
    /** True from the first moment of a graceful shutdown: /readyz answers 503. */
    draining: boolean;
  }
}

export interface ServerOptions {
  /** The /metrics body; default: this process's registry (the cluster primary aggregates). */
  metricsText?: () => Promise<string>;
}

export async function buildServer(deps: AppDeps, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new RequestLog(),
    // Each request's logger without pino's child() and its redaction of the bindings.
    childLoggerFactory: (logger, bindings, opts) => requestChildLogger(logger, bindings, opts),
    bodyLimit: BODY_LIMIT_BYTES,
    // A tRPC batch names every procedure in one path segment ("a.b,c.d,..."); Fastify's
    // default of 100 characters answered 414 to a batch of six ordinary calls.
    routerOptions: { maxParamLength: 4096 },
    // Registration (the OpenAPI document, the static roots) is CPU work: on a busy host
    // (a rolling deploy on a loaded node, a CI machine) Fastify's 10 s default failed the start.
    pluginTimeout: 60_000,
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: { headersTimeout: HEADERS_TIMEOUT_MS, maxHeaderSize: MAX_HEADER_BYTES },
    trustProxy: deps.config.TRUST_PROXY,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
  });
  app.decorate('draining', false);
  // Before anything else: a body too large or of a type no route takes is refused unread.
  app.addHook('onRequest', bodyGuard);
  app.addHook('onSend', closeOnUnreadBody);

  // Security headers: helmet's defaults, computed once (they do not vary per request).
  // @fastify/helmet rebuilt helmet's middleware on every request, which cost more CPU than
  // a whole 0-query procedure call.
  // req.protocol is https on a TLS socket, or from x-forwarded-proto when TRUST_PROXY is set.
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(req.protocol === 'https' ? SECURITY_HEADERS.https : SECURITY_HEADERS.http);
    // A Host header no URL can be built from (tRPC's adapter builds one from it) is the
    // client's error: 400, not the adapter's 500 "Invalid URL".
    const host = req.headers.host;
    if (host !== undefined && !validHost(host)) {
      reply.code(400).send({ error: 'Bad Request', message: 'Invalid Host header' });
      return;
    }
    done();
  });
  await app.register(cors, {
    // An empty CORS_ORIGINS allows no browser origin (server-to-server and mobile still work).
    // Still a list, not `false`: a preflight is answered 204 (without Access-Control-Allow-*
    // for an origin not listed) instead of falling through to the routes (tRPC said 415).
    origin: deps.config.CORS_ORIGINS,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id', 'trpc-accept', 'idempotency-key'],
    exposedHeaders: ['x-request-id', 'retry-after', 'idempotent-replayed'],
    maxAge: 600,
  });
  // tRPC's official adapter answers with a Fetch Response, whose body @fastify/compress
  // sees as a stream of unknown size and compresses whatever its size. A complete answer
  // goes on as a Buffer instead, so both tRPC paths follow COMPRESS_THRESHOLD_BYTES.
  // Streams (jsonl batches, server-sent events) stay streams.
  // (Hooks with a callback: the lean path's answers, already Buffers, make no promise here.)
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (!(payload instanceof Response) || payload.body === null || isStreamed(payload)) {
      done(null, payload);
      return;
    }
    reply.code(payload.status);
    payload.headers.forEach((value, name) => {
      reply.header(name, value);
    });
    payload.arrayBuffer().then(
      (body) => done(null, Buffer.from(body)),
      (err: Error) => done(err),
    );
  });
  await app.register(compress, {
    threshold: COMPRESS_THRESHOLD_BYTES,
    encodings: ['br', 'gzip'],
    // Brotli's default quality (11) costs more CPU than an API response is worth.
    brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } },
  });

  // Only JSON bodies get past bodyGuard; an empty body of another declared type is read as
  // an empty string under bodyLimit, and tRPC answers it as its adapter would.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    // While draining, a keep-alive connection closes after its response: the client's
    // next request opens a new connection (to another instance once readiness says 503).
    if (app.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  const ready = readinessCache(deps);
  // Ready = can serve its users: the database answers. Redis is reported but does not take
  // the host out of the balancer: without it the host runs the degraded mode
  // (docs/operations.md: general limits in memory, logins and registrations 503, revocations
  // from the database resync), and a Redis outage reaches every host at once: making them all
  // unready would turn it into a full outage (issue 24).
  app.get('/readyz', async (_req, reply) => {
    if (app.draining) return reply.code(503).send({ status: 'draining' });
    const checks = await ready();
    const status =
      checks.database !== 'ok' ? 'unavailable' : checks.redis === 'failed' ? 'degraded' : 'ready';
    return reply.code(status === 'unavailable' ? 503 : 200).send({ status, checks });
  });
  // Per-procedure traffic is not for the public: only a scraper holding METRICS_TOKEN gets it
  // (docs/operations.md); without the variable the route does not exist.
  const metricsToken = deps.config.METRICS_TOKEN;
  if (metricsToken)
    app.get('/metrics', async (req, reply) => {
      if (!bearerMatches(req.headers.authorization, metricsToken))
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'metrics need a token' });
      const body = opts.metricsText ? await opts.metricsText() : await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(body);
    });
  app.get('/.well-known/jwks.json', async () => deps.tokens.jwks);

  await registerTrpc(app, deps);
  await registerRest(app, deps);
  registerDownloads(app, deps);
  await registerWebhooks(app, deps);
  await registerAdminConsole(app);
  registerHome(app);
  return app;
}

/** A Response tRPC streams: a jsonl batch (chunked) or server-sent events. */
function isStreamed(res: Response): boolean {
  return (
    res.headers.has('transfer-encoding') || /^text\/event-stream/i.test(res.headers.get('content-type') ?? '')
  );
}

type Checks = Record<string, 'ok' | 'failed'>;

/**
 * Readiness checked at most once per READY_CACHE_MS whatever the probe rate: callers during a
 * check share it, callers within the window after it get its result. A flood of /readyz
 * thus costs one database ping a second, taken through the pool's gate like any query.
 */
function readinessCache(deps: AppDeps): () => Promise<Checks> {
  let current: Promise<Checks> | undefined;
  let settledAt = 0;
  return () => {
    if (current && (settledAt === 0 || Date.now() - settledAt < READY_CACHE_MS)) return current;
    settledAt = 0;
    const check = readiness(deps).finally(() => {
      if (current === check) settledAt = Date.now();
    });
    current = check;
    return check;
  };
}

/** Whether Postgres answers and Redis takes a write, each within READY_CHECK_TIMEOUT_MS. */
async function readiness(deps: AppDeps): Promise<Checks> {
  const check = (p: Promise<unknown>) =>
    withTimeout(p, READY_CHECK_TIMEOUT_MS).then(
      () => 'ok' as const,
      () => 'failed' as const,
    );
  const redis = deps.redis;
  const [database, cache] = await Promise.all([
    check(deps.database.ping()),
    // A write, not a PING: a replica (a demoted primary, or a primary not yet found after
    // a failover) answers PING but refuses writes, and every limit needs writes.
    redis
      ? redis.status === 'ready'
        ? check(redis.set(`${deps.config.JWT_ISSUER}:readyz`, '1', 'PX', 10_000))
        : Promise.resolve('failed' as const)
      : undefined,
  ]);
  return cache === undefined ? { database } : { database, redis: cache };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
