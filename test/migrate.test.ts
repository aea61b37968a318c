// `npm run db:migrate` as an operator runs it: only DATABASE_URL set (no Redis, no keys, in
// production mode), several migrators at once on a fresh database, and a database that cannot
// be reached (one line, no stack trace) — real PostgreSQL; and production without
// DATABASE_URL refused (no database needed).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createDatabase } from '../db/client.ts';
import { rootCauseMessage } from '../server/logging.ts';
import { freePort } from './faults/support.ts';
import { createEmptyPostgresDatabase, REAL_DATABASE_URL } from './helpers.ts';

const JOURNAL = JSON.parse(readFileSync('migrations/meta/_journal.json', 'utf8')) as { entries: unknown[] };

/** scripts/migrate.ts in a process of its own, with exactly this environment (plus PATH). */
function migrate(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function appliedMigrations(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    return row!.n;
  } finally {
    await sql.end();
  }
}

describe('npm run db:migrate in production without DATABASE_URL', () => {
  it('fails in one line naming DATABASE_URL and touches no embedded database', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'manas360-migrate-'));
    try {
      const run = await migrate({ NODE_ENV: 'production', DATA_DIR: dataDir });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim()).toBe(
        'invalid configuration: DATABASE_URL is required in production (the embedded database is for development): nothing was migrated',
      );
      expect(existsSync(join(dataDir, 'pglite'))).toBe(false);
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!REAL_DATABASE_URL)('npm run db:migrate', () => {
  it('needs only DATABASE_URL (production mode, no Redis, no keys)', async () => {
    const empty = await createEmptyPostgresDatabase();
    try {
      const run = await migrate({ NODE_ENV: 'production', DATABASE_URL: empty.url });
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('migrations applied (postgres)');
      expect(run.code).toBe(0);
      expect(await appliedMigrations(empty.url)).toBe(JOURNAL.entries.length);
    } finally {
      await empty.drop();
    }
  });

  it('serializes migrators: three at once on a fresh database each succeed, each migration applied once', async () => {
    const empty = await createEmptyPostgresDatabase();
    const migrators = await Promise.all([1, 2, 3].map(() => createDatabase({ url: empty.url, poolMax: 1 })));
    try {
      // In one process, so that they really start together (no process start-up between them).
      const outcomes = await Promise.allSettled(migrators.map((m) => m.migrate()));
      expect(outcomes.map((o) => (o.status === 'rejected' ? rootCauseMessage(o.reason) : 'ok'))).toEqual([
        'ok',
        'ok',
        'ok',
      ]);
      expect(await appliedMigrations(empty.url)).toBe(JOURNAL.entries.length);
    } finally {
      await Promise.all(migrators.map((m) => m.close()));
      await empty.drop();
    }
  });

  it('says in one line why it failed, without a stack trace', async () => {
    const port = await freePort(); // nothing listens there
    const run = await migrate({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/nothing` });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`migration failed: connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});
