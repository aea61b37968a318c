// WORKERS > 1 (server/cluster.ts): the host's /metrics adds counters up and takes the
// largest of a gauge every worker holds a copy of; and a clean drain exits 0 even when a
// worker crashed (and was restarted) earlier, the crash being logged.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolGate } from '../db/client.ts';
import { createMetrics } from '../server/metrics.ts';
import type { ProcedureReport } from '../server/trpc/hooks.ts';
import { freePort, sleep } from './faults/support.ts';
import { createTestDatabase, REAL_DATABASE_URL } from './helpers.ts';
import { scaled } from './support/load.ts';

describe('the host metrics of several workers', () => {
  it('sums counters and pools, takes the largest revocation list and view refresh', async () => {
    const workers = [7, 7].map((entries, i) => {
      const metrics = createMetrics({
        pools: [new PoolGate('primary', 10, 100)],
        revocationEntries: () => entries,
      });
      metrics.procedure({ path: 'auth.me', code: 'OK', durationMs: 1, queries: i } as ProcedureReport);
      if (i === 0) metrics.viewRefresh([{ name: 'mv_daily_mood', ms: 120, rows: 42, repaired: 0 }]);
      return metrics.registry;
    });
    const host = AggregatorRegistry.aggregate(await Promise.all(workers.map((r) => r.getMetricsAsJSON())));
    const value = async (name: string) => (await host.getSingleMetric(name)!.get()).values;
    expect((await value('revocation_entries'))[0]!.value).toBe(7);
    expect((await value('view_refresh_rows'))[0]).toMatchObject({
      value: 42,
      labels: { view: 'mv_daily_mood' },
    });
    expect((await value('trpc_requests_total'))[0]).toMatchObject({
      value: 2,
      labels: { procedure: 'auth.me', code: 'OK' },
    });
    expect((await value('db_pool_size'))[0]!.value).toBe(20);
  });
});

describe.skipIf(!REAL_DATABASE_URL)('WORKERS=2', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let child: ChildProcess;
  let output = '';
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await database?.dispose();
  });

  it('exits 0 after a clean drain although a worker crashed before; the crash is logged', {
    timeout: scaled(60_000),
  }, async () => {
    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        WORKERS: '2',
        DATABASE_URL: database.url!,
        DATABASE_POOL_MAX: '3',
        JWT_SECRET: randomBytes(32).toString('hex'),
        JOBS_ENABLED: 'false',
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_MS: '5000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const workerPids = () =>
      new Set(
        output
          .split('\n')
          .filter((l) => l.includes('Server listening'))
          .map((l) => (JSON.parse(l) as { pid: number }).pid),
      );
    const until = async (what: string, cond: () => boolean) => {
      const started = performance.now();
      while (!cond()) {
        if (child.exitCode !== null) throw new Error(`exited before ${what}:\n${output}`);
        if (performance.now() - started > 40_000) throw new Error(`no ${what} in 40 s:\n${output}`);
        await sleep(100);
      }
    };
    await until('two workers listening', () => workerPids().size === 2);
    const [victim] = [...workerPids()];
    process.kill(victim!, 'SIGKILL');
    await until('a restarted worker', () => workerPids().size === 3);
    expect(output).toMatch(/worker died: restarting it/);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('every worker has stopped');
  });
});
