// The embedded database (PGlite under DATA_DIR) serves one process: the documented commands
// run as a newcomer would run them (the server, then `npm run db:seed` or a second server on
// the same DATA_DIR) must refuse clearly instead of corrupting the files, and a lock left by a
// killed process must not block the next start.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../db/client.ts';
import { LOCK_FILE } from '../db/embedded-lock.ts';
import { NOTICE } from './helpers.ts';
import { trpcInput } from './server.ts';
import { scaled } from './support/load.ts';
import { confirmRegistrationSql } from './support/register.ts';

const ROOT = join(import.meta.dirname, '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The environment of `npm start` on the embedded database, on a DATA_DIR of the test's own. */
function envFor(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['DATABASE_URL', 'REDIS_URL', 'TEST_TRPC_PATH', 'VITEST', 'VITEST_WORKER_ID'])
    delete env[key];
  return {
    ...env,
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    JOBS_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    PASSWORD_HASH_COST: '12',
  };
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(script: string, env: NodeJS.ProcessEnv): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitReady(url: string, server: Run): Promise<void> {
  const deadline = Date.now() + scaled(60_000);
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`server exited:\n${server.output()}`);
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready:\n${server.output()}`);
}

async function call(url: string, path: string, input: unknown): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: trpcInput(input),
  });
  return { status: res.status, body: await res.text() };
}

const USER = { email: 'lock.user@example.com', password: 'lock-test-password-1' };

describe('one process per embedded database', () => {
  let dataDir: string;
  let port: number;
  let url: string;
  let server: Run | undefined;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'manas360-lock-'));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'refuses db:seed and a second server while the server runs, naming it; the data survives',
    async () => {
      server = run('server/index.ts', envFor(dataDir, port));
      await waitReady(url, server);
      const pid = server.child.pid!;
      // It says where to go next (server/startup.ts): the API, /docs, /admin, the database, seeding.
      const started = server;
      await expect
        .poll(() => started.output(), { timeout: scaled(30_000) })
        .toContain(`MANAS360 API ready at ${url}`);
      for (const part of [`${url}/docs`, `${url}/admin`, join(dataDir, 'pglite'), 'npm run db:seed'])
        expect(server.output()).toContain(part);
      expect(
        (await call(url, 'auth.register', { ...USER, name: 'Lock User', acceptPrivacyNotice: NOTICE }))
          .status,
      ).toBe(200);

      const seed = run('scripts/seed.ts', envFor(dataDir, port));
      expect(await seed.exited).toBe(1);
      expect(seed.output()).toContain(`in use by process ${pid}`);
      expect(seed.output()).toContain('stop the server, run npm run db:seed, then npm start');
      expect(seed.output()).not.toMatch(/password: demo/); // nothing seeded

      const second = run('server/index.ts', envFor(dataDir, await freePort()));
      expect(await second.exited).toBe(1);
      expect(second.output()).toContain(`in use by process ${pid} (the API server: server/index.ts`);

      // The first server still serves, and still holds the lock.
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({ pid });

      // A clean stop releases the lock; after a restart the data is all there.
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
      // The registration is confirmed (as its emailed link would: there is no SMTP here),
      // by a process of its own now that the lock is free.
      const database = await createDatabase({ dataDir });
      await database.db.execute(confirmRegistrationSql(USER.email));
      await database.close();
      const seeded = run('scripts/seed.ts', envFor(dataDir, port));
      expect(await seeded.exited).toBe(0);
      server = run('server/index.ts', envFor(dataDir, port));
      await waitReady(url, server);
      expect((await call(url, 'auth.login', USER)).status).toBe(200);
      expect(
        (await call(url, 'auth.login', { email: 'admin@demo.manas360.test', password: 'demo-password-123' }))
          .status,
      ).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    },
    scaled(180_000),
  );

  it(
    'takes over a lock whose process is gone (kill -9, a crash)',
    async () => {
      // A PID that existed and no longer does.
      const gone = spawn(process.execPath, ['-e', '']);
      await new Promise((r) => gone.on('exit', r));
      writeFileSync(
        join(dataDir, LOCK_FILE),
        JSON.stringify({ pid: gone.pid, command: 'server/index.ts', startedAt: '2026-01-01T00:00:00.000Z' }),
      );
      server = run('server/index.ts', envFor(dataDir, port));
      await waitReady(url, server);
      expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({
        pid: server.child.pid,
      });
      expect((await call(url, 'auth.login', USER)).status).toBe(200);
      // Killed without a chance to clean up: the next start takes the lock over all the same.
      server.child.kill('SIGKILL');
      await server.exited;
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(true);
      const seed = run('scripts/seed.ts', envFor(dataDir, port));
      expect(await seed.exited).toBe(0);
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
      // The registration is confirmed (as its emailed link would: there is no SMTP here),
      // by a process of its own now that the lock is free.
      const database = await createDatabase({ dataDir });
      await database.db.execute(confirmRegistrationSql(USER.email));
      await database.close();
    },
    scaled(180_000),
  );
});
