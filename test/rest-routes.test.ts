// Every query and mutation is on REST (nothing to forget: the route is derived from the path
// and type, server/trpc/meta.ts restRoute), the document describes each one completely, and
// everything under /api that is not a success answers with the one error body
// {message, code, data} — the procedure's refusals, and what never reaches one: a body that is
// not JSON, another media type, a body over 1 MB, a wrong method (405 with Allow), a path no
// route has (404).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT_BYTES } from '../server/http/body-guard.ts';
import { offRest, openApiDocument, REST_PREFIX, restProcedures } from '../server/http/openapi.ts';
import { appRouter } from '../server/routers/index.ts';
import { procedures } from '../server/trpc/invoke.ts';
import { sendRaw, startTestServer, type TestServer } from './server.ts';

describe('REST routes', () => {
  it('serves every query and mutation; only subscriptions (SSE on /trpc) are left out', () => {
    const all = procedures(appRouter);
    const served = new Set(restProcedures().map((p) => p.path));
    const missing = all.filter((p) => p.type !== 'subscription' && !served.has(p.path)).map((p) => p.path);
    // A procedure kept off REST says why (meta.restOff); none is today.
    expect(offRest()).toEqual([]);
    expect(missing).toEqual([]);
    expect(all.filter((p) => !served.has(p.path)).map((p) => p.path)).toEqual(['crisis.onChange']);
    for (const p of restProcedures()) {
      expect(p.url, p.path).toBe(`/${p.path.replaceAll('.', '/')}`);
      expect(p.method, p.path).toBe(p.type === 'query' ? 'GET' : 'POST');
    }
  });

  it('documents each route with summary, description, tag, operationId and its error statuses', () => {
    const doc = openApiDocument() as unknown as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
      tags: { name: string; description: string }[];
      components: { responses: Record<string, { headers?: Record<string, unknown> }> };
    };
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const p of restProcedures()) {
      const op = doc.paths[p.url]?.[p.method.toLowerCase()];
      expect(op, `${p.method} ${p.url}`).toBeDefined();
      expect(op).toMatchObject({
        summary: expect.any(String),
        description: expect.stringContaining(`\`${p.path}\``),
        operationId: expect.any(String),
      });
      expect(tags.has((op!.tags as string[])[0]!), p.path).toBe(true);
      const statuses = Object.keys(op!.responses as object);
      expect(statuses, p.path).toEqual(expect.arrayContaining(['200', '429', '503']));
      if (p.method === 'POST')
        expect(statuses, p.path).toEqual(expect.arrayContaining(['400', '413', '415']));
      if (p.authenticated) expect(statuses, p.path).toEqual(expect.arrayContaining(['401', '403']));
      else expect(op!.security, p.path).toEqual([]);
    }
    expect(doc.components.responses.TooManyRequests?.headers).toHaveProperty('Retry-After');
    expect(doc.paths['/subscriptions/checkout']?.post?.responses).toHaveProperty('412');
  });
});

describe('one error body under /api', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    sendRaw(server.url, { method: 'POST', path: `${REST_PREFIX}${path}`, headers, body });
  /** The error body, which must be exactly {message, code, data} with data.code and httpStatus. */
  function envelope(res: { status: number; body: string }, status: number, code: string) {
    expect(res.status).toBe(status);
    const body = JSON.parse(res.body) as { message: string; code: string; data: Record<string, unknown> };
    expect(Object.keys(body).sort()).toEqual(['code', 'data', 'message']);
    expect(body).toMatchObject({ code, message: expect.any(String), data: { code, httpStatus: status } });
    return body;
  }

  it('a body that is not JSON: 400 with the parse message', async () => {
    const res = await post('/auth/login', '{bad', { 'content-type': 'application/json' });
    expect(envelope(res, 400, 'BAD_REQUEST').message).toMatch(/JSON/);
  });

  it('another media type: 415', async () => {
    envelope(
      await post('/auth/login', 'email=a', { 'content-type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    envelope(
      await post('/auth/login', 'email=a', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('a body over 1 MB: 413', async () => {
    const big = JSON.stringify({ email: 'a'.repeat(BODY_LIMIT_BYTES) });
    envelope(
      await post('/auth/login', big, { 'content-type': 'application/json' }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('a wrong method: 405 with Allow', async () => {
    const res = await sendRaw(server.url, { method: 'DELETE', path: `${REST_PREFIX}/mood/list` });
    envelope(res, 405, 'METHOD_NOT_SUPPORTED');
    expect(res.headers.allow).toBe('GET');
    const get = await sendRaw(server.url, { method: 'GET', path: `${REST_PREFIX}/mood/log` });
    envelope(get, 405, 'METHOD_NOT_SUPPORTED');
    expect(get.headers.allow).toBe('POST');
  });

  it('a path no route has: 404, whatever the method', async () => {
    envelope(
      await sendRaw(server.url, { method: 'GET', path: `${REST_PREFIX}/no/such/thing` }),
      404,
      'NOT_FOUND',
    );
    envelope(await post('/mood', '{}', { 'content-type': 'application/json' }), 404, 'NOT_FOUND');
  });

  it("a procedure's refusal: 401 without a token, with tRPC's data", async () => {
    const res = await sendRaw(server.url, { method: 'GET', path: `${REST_PREFIX}/privacy/status` });
    expect(envelope(res, 401, 'UNAUTHORIZED').data).toMatchObject({ path: 'privacy.status' });
  });
});
