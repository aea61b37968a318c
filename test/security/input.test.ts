// SECURITY-TESTS 36–41: hostile request shapes against the real HTTP server. Each answer
// must be a clean 4xx (or a generic 500) with no procedure run, no SQL issued, and nothing
// internal (SQL, parameters, stack) in the body.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onQuery } from '../../db/client.ts';
import { leaksInternals, startTestServer, type TestServer, trpcInput } from '../server.ts';

describe('hostile request shapes (SECURITY-TESTS 36–41)', () => {
  let server: TestServer;
  let token: string;
  /** Procedure calls and SQL statements seen since the last reset. */
  const seen = { procedures: 0, queries: 0 };
  let stopQueries: () => void;

  beforeAll(async () => {
    server = await startTestServer();
    const hooks = server.deps.hooks;
    const previous = hooks.onProcedure;
    hooks.onProcedure = (report) => {
      seen.procedures += 1;
      previous?.(report);
    };
    stopQueries = onQuery(() => {
      seen.queries += 1;
    });
    ({ token } = await server.deps.tokens.sign(
      {
        id: randomUUID(),
        email: 'input@example.com',
        role: 'patient',
        privilegeLevel: 10,
        permissions: ['profile.read'],
        features: ['mood_tracking'],
        plan: 'free',
      },
      randomUUID(),
    ));
  });
  afterAll(async () => {
    stopQueries?.();
    await server?.close();
  });
  function reset() {
    seen.procedures = 0;
    seen.queries = 0;
  }
  async function send(path: string, init: RequestInit = {}) {
    const res = await fetch(`${server.url}${path}`, init);
    const body = await res.text();
    expect(leaksInternals(body), body).toBe(false);
    return { status: res.status, body, headers: res.headers };
  }
  const auth = () => ({ authorization: `Bearer ${token}` });

  it('36 /trpc/,,,,(×1000)?batch=1 → 400 and no procedure runs', async () => {
    reset();
    const { status, body } = await send(
      `/trpc/${','.repeat(1000)}?batch=1&input=${encodeURIComponent('{}')}`,
    );
    expect(status).toBe(400);
    expect(body).toMatch(/batch/i);
    // A thousand real names with a valid token, as GET and POST: refused before any
    // procedure (400 from the batch limit, or 414 when the path is longer than allowed).
    const names = `/trpc/${'auth.me,'.repeat(1000)}auth.me?batch=1`;
    expect([400, 414]).toContain((await send(names, { headers: auth() })).status);
    const post = await send(names, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth() },
      body: '{}',
    });
    expect([400, 414]).toContain(post.status);
    expect(seen).toEqual({ procedures: 0, queries: 0 });
  });

  it('37 a batch of 50 valid calls → 400, none runs (a batch of 10 works)', async () => {
    reset();
    const paths = (n: number) => Array(n).fill('auth.me').join(',');
    const fifty = await send(`/trpc/${paths(50)}?batch=1`, { headers: auth() });
    expect(fifty.status).toBe(400);
    expect(seen.procedures).toBe(0);
    const ten = await send(`/trpc/${paths(server.deps.config.MAX_BATCH_SIZE)}?batch=1`, { headers: auth() });
    expect(ten.status).toBe(200);
    const results = JSON.parse(ten.body) as Array<{ result?: unknown }>;
    expect(results).toHaveLength(server.deps.config.MAX_BATCH_SIZE);
    expect(results.every((r) => r.result)).toBe(true);
    expect(seen.procedures).toBe(server.deps.config.MAX_BATCH_SIZE);
  });

  it('38 a body over the limit → 413 as clean JSON, server still healthy', async () => {
    reset();
    const big = trpcInput({ email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024) });
    const { status, body } = await send('/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(status).toBe(413);
    expect(() => JSON.parse(body)).not.toThrow();
    expect(body.length).toBeLessThan(2000);
    expect(seen).toEqual({ procedures: 0, queries: 0 });
    expect((await send('/healthz')).status).toBe(200);
  });
});
