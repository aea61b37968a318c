// A newcomer's first minute: the start-up says where to go next (server/startup.ts), an
// unsupported Node.js is named at once, and the bare address answers with links that work.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOME_LINKS } from '../server/http/home.ts';
import { browsableUrl, nodeVersionWarning, startupInfo, startupLines } from '../server/startup.ts';
import { startTestServer, type TestServer } from './server.ts';
import { scaled } from './support/load.ts';

describe('the start-up message', () => {
  it('names the API, /docs, /admin, the embedded database and how to seed it', () => {
    const info = startupInfo({ DATABASE_URL: undefined, DATA_DIR: './.data' }, 'http://0.0.0.0:3000');
    expect(info).toEqual({
      api: 'http://localhost:3000',
      docs: 'http://localhost:3000/docs',
      admin: 'http://localhost:3000/admin',
      embeddedDatabase: resolve('.data/pglite'),
    });
    const text = startupLines(info).join('\n');
    for (const part of [info.api, info.docs, info.admin, info.embeddedDatabase!, 'npm run db:seed'])
      expect(text).toContain(part);
  });

  it('on a real database, names no embedded one', () => {
    const info = startupInfo(
      { DATABASE_URL: 'postgres://db/x', DATA_DIR: './.data' },
      'http://127.0.0.1:8080',
    );
    expect(info.embeddedDatabase).toBeUndefined();
    expect(startupLines(info).join('\n')).not.toContain('PGlite');
    expect(browsableUrl('http://[::]:3000')).toBe('http://localhost:3000');
  });

  it('warns on a Node.js older than 24, and only then', () => {
    expect(nodeVersionWarning('20.20.2')).toBe(
      'warning: Node.js 20.20.2 is not supported: MANAS360 needs Node.js 24 or newer (.nvmrc); expect failures',
    );
    expect(nodeVersionWarning('24.0.0')).toBeUndefined();
    expect(nodeVersionWarning('25.1.0')).toBeUndefined();
  });

  // The machine's own Node.js, when it is an old one (Debian's 20 here): the server says so
  // first, before anything else can fail.
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find(
    (p) => existsSync(p) && Number(spawnSync(p, ['-p', 'process.versions.node.split(".")[0]']).stdout) < 24,
  );
  it.skipIf(!oldNode)('the server started on an old Node.js prints the warning first', () => {
    const run = spawnSync(oldNode!, ['--import', 'tsx', 'server/index.ts'], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production' }, // stops at the configuration
      encoding: 'utf8',
      timeout: scaled(120_000),
    });
    expect(run.status).toBe(1);
    expect(run.stderr.split('\n')[0]).toMatch(
      /^warning: Node\.js 2\d\.\d+\.\d+ is not supported: MANAS360 needs Node\.js 24/,
    );
  });
});

describe('GET /', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers a program with JSON links, each of which answers', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { name: string; links: { rel: string; href: string }[] };
    expect(body.name).toBe('MANAS360 API');
    expect(body.links.map((l) => l.rel)).toEqual(expect.arrayContaining(['docs', 'admin', 'openapi']));
    for (const link of body.links.filter((l) => l.rel !== 'trpc')) {
      const target = await fetch(`${server.url}${link.href}`);
      const text = await target.text();
      // The console answers 503 "not built: run npm run build" in a checkout without a build.
      if (link.rel === 'admin' && target.status === 503) expect(text).toContain('npm run build');
      else expect([link.href, target.status]).toEqual([link.href, 200]);
    }
  });

  it('answers a browser with a page of the same links', async () => {
    const res = await fetch(`${server.url}/`, {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const page = await res.text();
    for (const link of HOME_LINKS) expect(page).toContain(`href="${link.href}"`);
  });
});
