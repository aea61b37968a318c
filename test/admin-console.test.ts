// The admin console's server side: the cookie session at /auth/session (CSRF refusals,
// cookie attributes, rotation, reuse, logout) and how /admin is served (CSP, caching,
// the console's routes, missing assets). The browser suite (test/browser) drives both
// from Chromium.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, registerAdminConsole } from '../server/http/admin-console.ts';
import { SESSION_COOKIE, SESSION_CSRF_HEADER } from '../server/http/session-cookie.ts';
import { NOTICE } from './helpers.ts';
import { registerUser, startTestServer, type TestServer, trpcInput } from './server.ts';

const PASSWORD = 'console-password-1';

describe('the console session at /auth/session', () => {
  let server: TestServer;
  let email: string;
  beforeAll(async () => {
    server = await startTestServer();
    email = `console-${Date.now().toString(36)}@example.test`;
    await registerUser(server, { email, password: PASSWORD, name: 'Console', acceptPrivacyNotice: NOTICE });
  });
  afterAll(async () => {
    await server?.close();
  });

  const call = (
    procedure: string,
    opts: { body?: unknown; cookie?: string; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${server.url}/auth/session/${procedure}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: server.url,
        [SESSION_CSRF_HEADER]: '1',
        ...(opts.cookie ? { cookie: `${SESSION_COOKIE}=${opts.cookie}` } : {}),
        ...opts.headers,
      },
      body: opts.body === undefined ? undefined : trpcInput(opts.body),
    });
  const data = async (res: Response) =>
    superjson.deserialize((await res.json()).result.data) as Record<string, unknown>;
  /** The refresh token the response's Set-Cookie stores ('' when it deletes the cookie). */
  const cookieOf = (res: Response) => /^m360_refresh=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1];

  it('refuses a request without the console header, from another origin, or without an Origin: 403, nothing set', async () => {
    const login = { email, password: PASSWORD };
    const refused: Array<Record<string, string>> = [
      { [SESSION_CSRF_HEADER]: '' },
      { origin: 'https://evil.example' },
      { origin: server.url.replace('127.0.0.1', 'localhost') },
      { origin: '' },
    ];
    for (const headers of refused) {
      const res = await call('login', { body: login, headers });
      expect(res.status).toBe(403);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('login puts the refresh token in an HttpOnly, Secure, SameSite=Strict cookie scoped to /auth/session, not in the body', async () => {
    const res = await call('login', { body: { email, password: PASSWORD } });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(
      /^m360_refresh=[A-Za-z0-9_-]{43}; Path=\/auth\/session; Max-Age=604800; HttpOnly; Secure; SameSite=Strict$/,
    );
    const body = await data(res);
    expect(body).toHaveProperty('accessToken');
    expect(body).not.toHaveProperty('refreshToken');
    const me = await server.client(body.accessToken as string).auth.me.query();
    expect(me.email).toBe(email);
  });

  it('refresh rotates the cookie; the old cookie is refused and cleared; no cookie is refused', async () => {
    const first = cookieOf(await call('login', { body: { email, password: PASSWORD } }))!;
    const refreshed = await call('refresh', { cookie: first });
    expect(refreshed.status).toBe(200);
    const second = cookieOf(refreshed)!;
    expect(second).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(second).not.toBe(first);
    const { accessToken } = await data(refreshed);
    await expect(server.client(accessToken as string).auth.me.query()).resolves.toMatchObject({ email });

    const reused = await call('refresh', { cookie: first });
    expect(reused.status).toBe(401);
    expect(cookieOf(reused)).toBe('');
    expect(reused.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await call('refresh')).status).toBe(401);
  });

  it('logout revokes the session: its refresh cookie and access token stop working', async () => {
    const login = await call('login', { body: { email, password: PASSWORD } });
    const cookie = cookieOf(login)!;
    const { accessToken } = await data(login);
    expect((await call('logout', { cookie })).status).toBe(200);
    expect((await call('refresh', { cookie })).status).toBe(401);
    await expect(server.client(accessToken as string).auth.me.query()).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    });
  });
});

describe('/admin serving', () => {
  let dir: string;
  const app = Fastify();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'manas360-console-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    await registerAdminConsole(app, dir);
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page uncached and hashed assets immutable, under a CSP without inline scripts or styles', async () => {
    const page = await app.inject('/admin/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>console</title>');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("style-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe');
    const asset = await app.inject('/admin/assets/index-abc123.js');
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-security-policy']).toBe(CONSOLE_CSP);
  });

  it("answers the page for the console's own routes and 404 for a missing asset", async () => {
    for (const path of ['/admin', '/admin/users', '/admin/users/8f0c6a43-1f0e-4c7e-9a59-3f1d9c1e2b7a']) {
      const res = await app.inject(path);
      expect(res.statusCode, path).toBe(200);
      expect(res.body).toContain('<title>console</title>');
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    expect((await app.inject('/admin/assets/missing-000.js')).statusCode).toBe(404);
    expect((await app.inject('/admin/../package.json')).body).not.toContain('"dependencies"');
  });

  it('says how to build the console when it is not built', async () => {
    const bare = Fastify();
    await registerAdminConsole(bare, join(dir, 'nowhere'));
    const res = await bare.inject('/admin/');
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    await bare.close();
  });
});
