// The production image without a Docker engine: its file set assembled as the Dockerfile
// does (a production install of the lockfile, the esbuild bundle in dist/, the migrations),
// then run as the image runs it: read-only files and an unwritable TMPDIR, an unprivileged
// user, NODE_ENV=production on real PostgreSQL and Redis, keys from keys:generate passed the
// way `docker run --env-file` passes them, ./.env read. It must migrate, answer /readyz 200,
// and stop on SIGTERM with exit code 0. Real PostgreSQL and Redis only.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './faults/support.ts';
import { createEmptyPostgresDatabase, dockerEnvFile, REAL_DATABASE_URL, REAL_REDIS_URL } from './helpers.ts';
import { scaled } from './support/load.ts';

describe.skipIf(!REAL_DATABASE_URL || !REAL_REDIS_URL)('the production image file set', () => {
  const app = mkdtempSync(join(tmpdir(), 'manas360-image-'));
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill('SIGKILL');
    chmodSync(app, 0o755);
    execFileSync('chmod', ['-R', 'u+w', app]);
    rmSync(app, { recursive: true, force: true });
  });

  it(
    'starts read-only from dist/ with production dependencies only, and answers /readyz 200',
    async () => {
      // As the Dockerfile's stages: npm ci --omit=dev --legacy-peer-deps; npm run build:server; migrations.
      cpSync('package.json', join(app, 'package.json'));
      cpSync('package-lock.json', join(app, 'package-lock.json'));
      execFileSync(
        'npm',
        ['ci', '--omit=dev', '--legacy-peer-deps', '--no-audit', '--no-fund', '--prefer-offline'],
        {
          cwd: app,
          stdio: 'pipe',
        },
      );
      execFileSync('npm', ['run', 'build:server', '--', `--outdir=${join(app, 'dist')}`], { stdio: 'pipe' });
      cpSync('migrations', join(app, 'migrations'), { recursive: true });
      for (const absent of [
        'typescript',
        'esbuild',
        'tsx',
        '@electric-sql',
        'pino-pretty',
        'vitest',
        'drizzle-kit',
      ])
        expect(existsSync(join(app, 'node_modules', absent)), absent).toBe(false);
      expect(readdirSync(join(app, 'dist')).filter((f) => f.endsWith('.js'))).toEqual([
        'keys.js',
        'migrate.js',
        'server.js',
        'worker.js',
      ]);

      const port = await freePort();
      writeFileSync(join(app, '.env'), `# read by the server at start\nPORT=${port}\nLOG_LEVEL=warn\n`);
      // Nothing in the image is writable by the process; TMPDIR and HOME point at read-only places.
      execFileSync('chmod', ['-R', 'a-w,a+rX', app]);
      const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}; // root ignores file modes
      const base = { PATH: process.env.PATH ?? '', NODE_ENV: 'production', TMPDIR: app, HOME: app };
      const run = (script: string, env: Record<string, string>) =>
        execFileSync(process.execPath, [script], {
          cwd: app,
          env: { ...base, ...env },
          encoding: 'utf8',
          ...asUser,
        });

      const keys = dockerEnvFile(run('dist/keys.js', {}));
      expect(Object.keys(keys)).toEqual(['JWT_PRIVATE_KEYS', 'NOTES_ENCRYPTION_KEY']);
      const database = await createEmptyPostgresDatabase();
      try {
        expect(run('dist/migrate.js', { DATABASE_URL: database.url }).trim()).toBe(
          'migrations applied (postgres)',
        );
        let log = '';
        const child = spawn(process.execPath, ['--enable-source-maps', 'dist/server.js'], {
          cwd: app,
          env: {
            ...base,
            ...keys,
            DATABASE_URL: database.url,
            REDIS_URL: REAL_REDIS_URL!,
            JOBS_ENABLED: 'false',
          },
          ...asUser,
        });
        server = child;
        child.stdout!.on('data', (d) => (log += d));
        child.stderr!.on('data', (d) => (log += d));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

        let ready: Response | undefined;
        for (const started = performance.now(); performance.now() - started < 60_000; ) {
          if (child.exitCode !== null) break;
          ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          if (ready?.status === 200) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(ready?.status, log).toBe(200);
        expect(await ready!.json()).toEqual({ status: 'ready', checks: { database: 'ok', redis: 'ok' } });
        child.kill('SIGTERM');
        expect(await exited, log).toBe(0);
        expect(log).not.toMatch(/EACCES|EROFS/);
      } finally {
        await database.drop();
      }
    },
    scaled(240_000),
  );
});
