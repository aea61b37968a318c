// The HTTP layer under hostile or unusual requests: body and header limits, batch size,
// request ids, compression, CORS, security headers, readiness while draining, metrics,
// Retry-After on rate-limited calls, and logs that never carry a secret.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, COMPRESS_THRESHOLD_BYTES, READY_CACHE_MS } from '../server/app.ts';
import { REDACT_PATHS } from '../server/create-services.ts';
import { serializeError } from '../server/logging.ts';
import { tokenFor } from './faults/support.ts';
import { createTestDeps, NOTICE, REAL_DATABASE_URL } from './helpers.ts';
import { startTestServer, type TestServer, TRPC_PATHS, trpcInput } from './server.ts';
import { confirmRegistrationSql } from './support/register.ts';

/** A pino logger whose JSON lines land in `lines`, with the production redaction. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino(
    {
      level: 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: serializeError, error: serializeError },
    },
    stream,
  );
  return { log, lines };
}

const METRICS_TOKEN = 'test-metrics-token-0123456789abcdef';
const scraper = { authorization: `Bearer ${METRICS_TOKEN}` };

describe('HTTP hardening', () => {
  let server: TestServer;
  const captured = capturingLogger();
  beforeAll(async () => {
    server = await startTestServer({
      log: captured.log,
      env: {
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_GENERAL_PER_MINUTE: '5',
        CORS_ORIGINS: 'https://app.example.com',
        TRUST_PROXY: 'true',
        METRICS_TOKEN,
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { headers });
  let ipSeq = 0;
  /** A client address of its own (X-Forwarded-For), so each test has a fresh general limit. */
  const freshIp = () => ({ 'x-forwarded-for': `10.9.0.${++ipSeq}` });

  it('answers a JSON body over 1 MB with 413 as JSON, and another body type with 415 unread', async () => {
    for (const [type, status] of [
      ['application/json', 413],
      ['text/plain', 413], // refused by its length first
    ] as const) {
      const res = await fetch(`${server.url}/trpc/auth.login`, {
        method: 'POST',
        headers: { 'content-type': type, ...freshIp() },
        body: 'x'.repeat(1024 * 1024 + 10),
      });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(((await res.json()) as { statusCode: number }).statusCode).toBe(status);
    }
  });

  it('refuses a 20 KB Authorization header before any work, and stays healthy', async () => {
    const res = await get('/trpc/auth.me', { authorization: `Bearer ${'a'.repeat(20 * 1024)}` });
    expect(res.status).toBe(431);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('answers a batch of more than MAX_BATCH_SIZE calls with 400', async () => {
    const paths = Array.from({ length: 11 }, () => 'subscriptions.plans').join(',');
    const res = await get(`/trpc/${paths}?batch=1&input={}`, freshIp());
    expect(res.status).toBe(400);
  });

  it('returns a valid x-request-id as given and replaces an invalid one', async () => {
    const ok = await get('/healthz', { 'x-request-id': 'trace-123.abc' });
    expect(ok.headers.get('x-request-id')).toBe('trace-123.abc');
    const bad = await get('/healthz', { 'x-request-id': 'no spaces <allowed>' });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('compresses large responses with brotli or gzip and leaves small ones alone', async () => {
    const paths = Array.from({ length: 4 }, () => 'subscriptions.plans').join(',');
    const big = await get(`/trpc/${paths}?batch=1&input={}`, { 'accept-encoding': 'br', ...freshIp() });
    expect(big.status).toBe(200);
    expect(big.headers.get('content-encoding')).toBe('br');
    expect(await big.json()).toHaveLength(4); // fetch decodes it
    const gz = await get('/metrics', { 'accept-encoding': 'gzip', ...scraper });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    const small = await get('/healthz', { 'accept-encoding': 'gzip, br' });
    expect(small.headers.get('content-encoding')).toBeNull();
  });

  it.each(TRPC_PATHS)('compresses tRPC answers on the %s path above the threshold only', async (trpcPath) => {
    const app = await buildServer({ ...server.deps, config: { ...server.deps.config, TRPC_PATH: trpcPath } });
    try {
      const gzip = { 'accept-encoding': 'gzip', ...freshIp() };
      const small = await app.inject({ url: '/trpc/auth.me', headers: gzip });
      expect(small.statusCode).toBe(401);
      expect(small.rawPayload.length).toBeLessThan(COMPRESS_THRESHOLD_BYTES);
      expect(small.headers['content-encoding']).toBeUndefined();
      expect(small.headers['content-length']).toBe(String(small.rawPayload.length));
      const paths = Array.from({ length: 4 }, () => 'subscriptions.plans').join(',');
      const big = await app.inject({ url: `/trpc/${paths}?batch=1&input={}`, headers: gzip });
      expect(big.statusCode).toBe(200);
      expect(big.headers['content-encoding']).toBe('gzip');
    } finally {
      await app.close();
    }
  });

  it('allows only the configured CORS origins and sends security headers', async () => {
    const allowed = await get('/healthz', { origin: 'https://app.example.com' });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const other = await get('/healthz', { origin: 'https://evil.example.com' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(allowed.headers.get('x-content-type-options')).toBe('nosniff');
    expect(allowed.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(allowed.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });

  it('sends HSTS and upgrade-insecure-requests over HTTPS only: a trusted proxy says so, or TLS', async () => {
    /** Whether a response carries the HTTPS-only headers (both or neither, checked). */
    const isHttps = (h: { hsts: unknown; csp: unknown }) => {
      const csp = String(h.csp ?? '');
      expect(csp).toContain("default-src 'self'");
      const hsts = String(h.hsts ?? '').includes('max-age=');
      expect(csp.includes('upgrade-insecure-requests')).toBe(hsts);
      return hsts;
    };
    const headersOf = (res: Response) => ({
      hsts: res.headers.get('strict-transport-security'),
      csp: res.headers.get('content-security-policy'),
    });
    expect(isHttps(headersOf(await get('/healthz')))).toBe(false); // plain HTTP
    // This server has TRUST_PROXY=true: the proxy's x-forwarded-proto counts.
    expect(isHttps(headersOf(await get('/healthz', { 'x-forwarded-proto': 'https' })))).toBe(true);
    expect(isHttps(headersOf(await get('/healthz', { 'x-forwarded-proto': 'http' })))).toBe(false);

    // Without TRUST_PROXY a client's x-forwarded-proto counts for nothing; a TLS socket does.
    const app = await buildServer({ ...server.deps, config: { ...server.deps.config, TRUST_PROXY: false } });
    const dir = mkdtempSync(join(tmpdir(), 'manas360-tls-'));
    const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    const tls = spawnSync(
      'openssl',
      `req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout ${keyFile} -out ${certFile}`.split(
        ' ',
      ),
    );
    expect(tls.status).toBe(0);
    const [key, cert] = [readFileSync(keyFile), readFileSync(certFile)];
    rmSync(dir, { recursive: true, force: true });
    try {
      const spoofed = await app.inject({ url: '/healthz', headers: { 'x-forwarded-proto': 'https' } });
      expect(
        isHttps({
          hsts: spoofed.headers['strict-transport-security'],
          csp: spoofed.headers['content-security-policy'],
        }),
      ).toBe(false);
      await app.ready();
      const httpsServer = createHttpsServer({ key, cert }, app.routing);
      await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = httpsServer.address() as AddressInfo;
        const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) =>
          httpsGet({ host: '127.0.0.1', port, path: '/healthz', ca: cert }, (res) => {
            res.resume();
            resolve(res.headers);
          }).on('error', reject),
        );
        expect(
          isHttps({
            hsts: headers['strict-transport-security'],
            csp: headers['content-security-policy'],
          }),
        ).toBe(true);
      } finally {
        httpsServer.close();
      }
    } finally {
      await app.close();
    }
  });

  it('counts every call of a batch: TOO_MANY_REQUESTS carries retryAfterSeconds and Retry-After', async () => {
    const ip = freshIp();
    const paths = Array.from({ length: 7 }, () => 'subscriptions.plans').join(',');
    const res = await get(`/trpc/${paths}?batch=1&input={}`, ip);
    const body = (await res.json()) as Array<{
      result?: unknown;
      error?: { json: { data: { code: string; retryAfterSeconds?: number } } };
    }>;
    expect(body.filter((b) => b.result)).toHaveLength(5);
    const refused = body.filter((b) => b.error);
    expect(refused).toHaveLength(2);
    expect(refused[0]!.error!.json.data.code).toBe('TOO_MANY_REQUESTS');
    const retry = refused[0]!.error!.json.data.retryAfterSeconds!;
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(res.headers.get('retry-after')).toBe(String(retry));
    const single = await get('/trpc/subscriptions.plans', ip);
    expect(single.status).toBe(429);
    expect(Number(single.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('publishes per-procedure requests, durations and query counts at /metrics', async () => {
    const token = await tokenFor(server.deps);
    expect((await get('/trpc/auth.me', { authorization: `Bearer ${token}`, ...freshIp() })).status).toBe(200);
    const text = await (await get('/metrics', scraper)).text();
    expect(text).toMatch(/trpc_requests_total\{procedure="auth.me",code="OK"\} 1/);
    expect(text).toMatch(/trpc_request_duration_seconds_count\{procedure="auth.me",code="OK"\} 1/);
    // Authentication is from the token alone: zero statements.
    expect(text).toMatch(/db_queries_total\{procedure="auth.me"\} 0/);
    expect(text).toMatch(/db_queries_total\{procedure="subscriptions.plans"\} [1-9]/);
    expect(text).toMatch(/rate_limit_rejections_total\{procedure="subscriptions.plans"\} [1-9]/);
    expect(text).toContain('process_cpu_seconds_total');
  });

  it('logs one line per request with id, user, procedure, code and duration', async () => {
    const userId = '5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
    const token = await tokenFor(server.deps, userId);
    await get('/trpc/auth.me', {
      authorization: `Bearer ${token}`,
      'x-request-id': 'log-line-1',
      ...freshIp(),
    });
    const line = captured.lines.map((l) => JSON.parse(l)).find((l) => l.reqId === 'log-line-1');
    expect(line).toMatchObject({ userId, procedure: 'auth.me', code: 'OK', statusCode: 200, msg: 'request' });
    expect(line.durationMs).toBeGreaterThan(0);
  });

  it('logs user, procedure and code for downloads and REST calls as for /trpc', async () => {
    const userId = '6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const authorization = `Bearer ${await tokenFor(server.deps, userId)}`;
    const cases = [
      ['/export', 'export.mine', 'FORBIDDEN', 403],
      ['/reports/mood?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z', 'reports.mood', 'FORBIDDEN', 403],
      ['/api/auth/me', 'auth.me', 'OK', 200],
    ] as const;
    for (const [i, [path, procedure, code, statusCode]] of cases.entries()) {
      const reqId = `log-line-download-${i}`;
      expect((await get(path, { authorization, 'x-request-id': reqId, ...freshIp() })).status).toBe(
        statusCode,
      );
      const line = captured.lines.map((l) => JSON.parse(l)).find((l) => l.reqId === reqId);
      expect(line).toMatchObject({ userId, procedure, code, statusCode, msg: 'request' });
    }
  });

  it('never logs a password, a token or a note (HTTP traffic and a failed query)', async () => {
    const password = 'Sup3r-Secret-Passw0rd!';
    const email = 'logged.user@example.com';
    const reg = await fetch(`${server.url}/trpc/auth.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...freshIp() },
      body: trpcInput({ email, password, name: 'Logged User', acceptPrivacyNotice: NOTICE }),
    });
    expect(reg.status).toBe(200);
    await server.deps.db.execute(confirmRegistrationSql(email));
    const signedIn = await fetch(`${server.url}/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...freshIp() },
      body: trpcInput({ email, password }),
    });
    expect(signedIn.status).toBe(200);
    const { json } = (
      (await signedIn.json()) as {
        result: { data: { json: { accessToken: string; refreshToken: string; user: { id: string } } } };
      }
    ).result.data;
    const login = await fetch(`${server.url}/trpc/auth.login?x=${encodeURIComponent(password)}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${json.accessToken}`,
        ...freshIp(),
      },
      body: trpcInput({ email, password: `${password}-wrong` }),
    });
    expect(login.status).toBe(401);
    // A driver error carries the statement's parameters (here a mood note) in its message.
    const note = 'I feel hopeless today NOTE-SECRET-42';
    const failed = await server.deps.db
      .execute(
        (await import('drizzle-orm'))
          .sql`INSERT INTO mood_entries (user_id, score, note) VALUES (${json.user.id}, 99, ${note})`,
      )
      .catch((err: unknown) => err);
    server.deps.log.error(
      { err: failed, input: { note, password }, token: json.refreshToken },
      'procedure failed',
    );
    const all = captured.lines.join('');
    expect(all).toContain('procedure failed');
    expect(all).toContain('mood_entries'); // the SQL text stays, for the operator
    for (const secret of [password, json.accessToken, json.refreshToken, 'NOTE-SECRET-42'])
      expect(all).not.toContain(secret);
  });

  it('serves /metrics only to a bearer of METRICS_TOKEN, and not at all without one configured', async () => {
    expect((await get('/metrics')).status).toBe(401);
    expect((await get('/metrics', { authorization: 'Bearer wrong-token' })).status).toBe(401);
    expect((await get('/metrics', { authorization: METRICS_TOKEN })).status).toBe(401);
    expect((await get('/metrics', scraper)).status).toBe(200);
    // The default configuration: no token, no public metrics.
    const app = await buildServer({
      ...server.deps,
      config: { ...server.deps.config, METRICS_TOKEN: undefined },
    });
    try {
      const res = await app.inject('/metrics');
      expect(res.statusCode).toBe(404);
      expect(res.body).not.toContain('trpc_requests_total');
    } finally {
      await app.close();
    }
  });

  it('pings the database at most once per readiness window, however many probes arrive', async () => {
    let pings = 0;
    const database = server.deps.database;
    const counted = {
      ...database,
      ping: () => {
        pings += 1;
        return database.ping();
      },
    };
    const app = await buildServer({ ...server.deps, database: counted });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const burst = async () => {
        const all = await Promise.all(Array.from({ length: 100 }, () => fetch(`${base}/readyz`)));
        for (const res of all) expect(res.status).toBe(200);
      };
      const started = Date.now();
      await burst();
      // Within one window (a slow machine may spill the burst into a second one).
      expect(pings).toBeLessThanOrEqual(Math.ceil((Date.now() - started + 1) / READY_CACHE_MS));
      const afterFirst = pings;
      await new Promise((r) => setTimeout(r, READY_CACHE_MS + 100));
      await burst();
      expect(pings - afterFirst).toBeGreaterThanOrEqual(1); // a new window checks again
      expect(pings).toBeLessThanOrEqual(4);
    } finally {
      await app.close();
    }
  });

  it('answers /readyz 200 with its checks, then 503 as soon as draining starts', async () => {
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: 'ok' } });
    // A second app on the same services, to flip its draining flag as SIGTERM does.
    const app = await buildServer(server.deps);
    try {
      expect((await app.inject('/readyz')).statusCode).toBe(200);
      app.draining = true;
      const draining = await app.inject('/readyz');
      expect(draining.statusCode).toBe(503);
      expect(draining.json()).toEqual({ status: 'draining' });
      expect((await app.inject('/healthz')).statusCode).toBe(200); // liveness is unaffected
    } finally {
      await app.close();
    }
  });
});

/** What an upload got: the status (undefined if none came), the body, and how much was sent. */
interface UploadResult {
  status: number | undefined;
  body: string;
  sentBytes: number;
}

/**
 * POSTs `total` bytes (made of `chunk` repeated, never held whole) over a connection of its
 * own, with a Content-Length or chunked, and stops writing as soon as an answer arrives or
 * the server closes the connection.
 */
/**
 * A request with a whole 900 KB JSON body, written at once (a client that keeps its
 * connection busy with refused bodies), then a wait: the answer's status and Connection
 * header, and whether the server closed the connection (a server that reads and discards the
 * body keeps it open for the next request).
 */
function unreadBody(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; connection: string | undefined; closedByServer: boolean }> {
  const { hostname, port } = new URL(url);
  const size = 900 * 1024;
  return new Promise((resolve) => {
    const req = request({
      host: hostname,
      port,
      method,
      path,
      agent: new Agent({ keepAlive: true }),
      headers: { 'content-type': 'application/json', 'content-length': String(size), ...headers },
    });
    req.on('error', () => {}); // EPIPE: the server stopped reading, as it should
    req.on('response', (res) => {
      res.resume();
      const answer = { status: res.statusCode ?? 0, connection: res.headers.connection };
      const socket = req.socket;
      if (!socket || socket.destroyed) return resolve({ ...answer, closedByServer: true });
      const wait = setTimeout(() => {
        socket.destroy();
        resolve({ ...answer, closedByServer: false });
      }, 5_000);
      socket.once('close', () => {
        clearTimeout(wait);
        resolve({ ...answer, closedByServer: true });
      });
    });
    req.end(Buffer.alloc(size, ' '));
  });
}

function upload(
  url: string,
  opts: { path: string; contentType: string; total: number; chunked?: boolean; prefix?: string },
): Promise<UploadResult> {
  const { hostname, port } = new URL(url);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const head = Buffer.from(opts.prefix ?? '');
  return new Promise((resolve) => {
    let sentBytes = 0;
    let status: number | undefined;
    let body = '';
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      req.destroy();
      resolve({ status, body, sentBytes });
    };
    const req = request(
      {
        host: hostname,
        port,
        method: 'POST',
        path: opts.path,
        agent: false,
        headers: {
          'content-type': opts.contentType,
          ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(opts.total) }),
        },
      },
      (res) => {
        status = res.statusCode;
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    req.on('error', () => setTimeout(finish, 200)); // EPIPE/ECONNRESET: the answer may still be read
    const pump = () => {
      while (!finished && status === undefined && sentBytes < opts.total) {
        const part = sentBytes === 0 && head.length > 0 ? head : chunk;
        const piece = part.subarray(0, Math.min(part.length, opts.total - sentBytes));
        sentBytes += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      if (!finished && status === undefined && sentBytes >= opts.total) req.end();
    };
    pump();
  });
}

describe.each(TRPC_PATHS)('request bodies on the %s tRPC path', (trpcPath) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ trpcPath });
  });
  afterAll(async () => {
    await server?.close();
  });
  const MB = 1024 * 1024;
  const multipart = (boundary: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n`;

  it('answers a Host header no URL can be built from with 400 (the adapter answered 500), and serves real ones', async () => {
    const { hostname, port } = new URL(server.url);
    const get = (host: string, path: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        request({ host: hostname, port, path, agent: false, headers: { host } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        })
          .on('error', reject)
          .end();
      });
    // A HEAD or jsonl request goes to tRPC's own adapter on both paths: it builds a URL from Host.
    const plans = '/trpc/subscriptions.plans';
    // Bracketed but not an IPv6 address: the URL parser refuses them too.
    for (const host of [
      'a b',
      'user@host',
      '[::1',
      'host:99999',
      'exa mple.com:80',
      '[1::2::3]',
      '[1.2.3.4]',
      '[:]',
    ])
      expect([host, await get(host, plans)]).toEqual([host, 400]);
    for (const host of [
      'localhost',
      `127.0.0.1:${port}`,
      '[::1]:3000',
      '[2001:db8::7]',
      '[::ffff:127.0.0.1]:3000',
      'api_internal:3000',
      'api.example.com.',
    ])
      expect([host, await get(host, plans)]).toEqual([host, 200]);
  });

  it('refuses a 5 MB multipart upload to auth.login with 413 by its Content-Length', async () => {
    const res = await upload(server.url, {
      path: '/trpc/auth.login',
      contentType: 'multipart/form-data; boundary=b0undary',
      total: 5 * MB,
      prefix: multipart('b0undary'),
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: 413 });
  });

  it('reads none of a 48 MB multipart upload: the server RSS does not grow by anything like it', async () => {
    const before = process.memoryUsage().rss;
    const res = await upload(server.url, {
      path: '/trpc/auth.login',
      contentType: 'multipart/form-data; boundary=b0undary',
      total: 48 * MB,
      prefix: multipart('b0undary'),
    });
    const grown = process.memoryUsage().rss - before;
    expect(res.status).toBe(413);
    // The connection closed: the client could not push the body through socket buffers.
    expect(res.sentBytes).toBeLessThan(24 * MB);
    expect(grown).toBeLessThan(16 * MB);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('cuts a chunked JSON body off with 413 once it passes 1 MB, without reading the rest', async () => {
    const res = await upload(server.url, {
      path: '/trpc/auth.login',
      contentType: 'application/json',
      total: 48 * MB,
      chunked: true,
    });
    expect(res.status).toBe(413);
    expect(res.sentBytes).toBeLessThan(24 * MB);
  });

  it.each([
    ['text/plain', false],
    ['multipart/form-data; boundary=b0undary', false],
    ['multipart/form-data; boundary=b0undary', true],
    ['application/x-www-form-urlencoded', false],
    ['application/octet-stream', true],
  ])('refuses a %s body (chunked: %s) with 415 before reading it', async (contentType, chunked) => {
    // Under the limit by its length, or chunked and endless: refused for its type alone.
    const res = await upload(server.url, {
      path: '/trpc/auth.login',
      contentType,
      total: chunked ? 48 * MB : 256 * 1024,
      chunked,
      prefix: contentType.startsWith('multipart') ? multipart('b0undary') : '',
    });
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: 415 });
    expect(res.sentBytes).toBeLessThan(24 * MB);
  });

  it('answers a preflight 204 without allowing an origin when none is configured (it was 415 from the route)', async () => {
    for (const path of ['/trpc/auth.login', '/api/auth/login', '/healthz']) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: server.url, 'access-control-request-method': 'POST' },
      });
      expect([path, res.status]).toEqual([path, 204]);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it.each([
    ['a GET with a body no route reads', 'GET', '/trpc/subscriptions.plans', {}],
    ['a refused session call', 'POST', '/auth/session/refresh', { origin: 'https://evil.example.com' }],
  ])(
    'closes the connection after answering %s before its body was read',
    async (_what, method, path, headers) => {
      const res = await unreadBody(server.url, method, path, headers);
      expect(res.status).toBeLessThan(500);
      expect(res.connection).toBe('close');
      // The server hung up instead of reading the body and waiting for the next request.
      expect(res.closedByServer).toBe(true);
    },
  );

  it('still serves a JSON call under the limit', async () => {
    const res = await fetch(`${server.url}/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: trpcInput({ email: 'nobody@example.com', password: 'not-the-password-1' }),
    });
    expect(res.status).toBe(401);
  });
});

describe.skipIf(!REAL_DATABASE_URL)('readiness on PostgreSQL', () => {
  it("pings through the pool's gate: with every connection taken, /readyz waits its turn and says 503", async () => {
    const deps = await createTestDeps('postgres');
    const app = await buildServer(deps);
    try {
      const gate = deps.database.pools![0]!;
      // Every permit held (as by slow requests) until released.
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      const holders = Array.from({ length: gate.size }, () => gate.run(() => held));
      const timeoutsBefore = gate.timeouts;
      const res = await app.inject('/readyz');
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ checks: { database: 'failed' } });
      expect(gate.timeouts).toBe(timeoutsBefore + 1);
      release();
      await Promise.all(holders);
    } finally {
      await app.close();
      await deps.dispose();
    }
  });
});
