// Faults on real PostgreSQL (skipped without DATABASE_URL), through the real HTTP server
// and procedures the test controls (faults.*):
// - every connection of the database killed (pg_terminate_backend) mid-traffic: in-flight
//   calls fail cleanly (503, no SQL), the next ones succeed, and every write acknowledged
//   to a client is in the database;
// - the pool exhausted by slow queries: extra requests get 503 within 1 s;
// - a statement timeout: a clean 504, and the connection is used again afterwards.

import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { classifyDbError, createDatabase, queryRows } from '../../db/client.ts';
import { num } from '../../db/row.ts';
import { buildServer } from '../../server/app.ts';
import { closeDeps, createDeps, createLogger } from '../../server/create-services.ts';
import type { AppDeps } from '../../server/services.ts';
import { createTestDatabase, REAL_DATABASE_URL, testConfig } from '../helpers.ts';
import { leaksInternals, trpcInput } from '../server.ts';
import { percentile, sleep } from './support.ts';

vi.mock('../../server/routers/index.ts', async (importOriginal) => {
  const { withFaultRouter } = await import('./support.ts');
  return withFaultRouter(await importOriginal<typeof import('../../server/routers/index.ts')>());
});

const POOL_MAX = 4;
const METRICS_TOKEN = 'faults-metrics-token-0123456789abcdef';
// Short, so the 1 s bound holds with margin even on a busy CI machine.
const POOL_WAIT_MS = 250;

describe.skipIf(!REAL_DATABASE_URL)('faults on PostgreSQL', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let deps: AppDeps;
  let app: FastifyInstance;
  let url: string;
  let admin: postgres.Sql;
  let dbName: string;
  beforeAll(async () => {
    testDb = await createTestDatabase('postgres');
    dbName = new URL(testDb.url!).pathname.slice(1);
    const config = testConfig({ METRICS_TOKEN });
    // The server's own pool: small, with a short wait, to exhaust it on purpose.
    const database = await createDatabase({ url: testDb.url, poolMax: POOL_MAX, poolWaitMs: POOL_WAIT_MS });
    deps = await createDeps(config, { database, log: createLogger(config) });
    app = await buildServer(deps);
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    admin = postgres(REAL_DATABASE_URL!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await app?.close();
    if (deps) await closeDeps(deps);
    await admin?.end();
    await testDb?.dispose();
  });

  const write = (marker: string) =>
    fetch(`${url}/trpc/faults.write`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: trpcInput({ marker }),
      signal: AbortSignal.timeout(10_000),
    });
  const query = (path: string, input?: unknown) =>
    fetch(
      `${url}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(trpcInput(input))}`}`,
      {
        signal: AbortSignal.timeout(10_000),
      },
    );

  it('survives every connection being killed mid-traffic: clean failures, recovery, no acknowledged write lost', async () => {
    const acknowledged: string[] = [];
    const failures: Array<{ status: number; body: string }> = [];
    const afterKill: number[] = [];
    let killedAt = 0;
    let seq = 0;
    const until = performance.now() + 2500;
    const writer = async () => {
      // Past `until` while fewer than 5 calls have started after the kill (a loaded machine).
      while (performance.now() < until || (afterKill.length < 5 && performance.now() < until + 15_000)) {
        const marker = `m-${seq++}`;
        const startedAt = performance.now();
        const res = await write(marker);
        const body = await res.text();
        if (res.status === 200) acknowledged.push(marker);
        else failures.push({ status: res.status, body });
        // Calls that started after the kill (and its reconnects) must all succeed.
        if (killedAt && startedAt > killedAt + 200) afterKill.push(res.status);
      }
    };
    // A call that holds a connection across the kill: the fault hits at least this one.
    const pinned = (async () => {
      const res = await query('faults.sleep', { seconds: 5 });
      return { status: res.status, body: await res.text() };
    })();
    await sleep(100);
    const killer = (async () => {
      await sleep(700);
      const killed = await admin`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
                                 WHERE datname = ${dbName} AND pid <> pg_backend_pid()`;
      killedAt = performance.now();
      return killed[0]!.n as number;
    })();
    await Promise.all([...Array.from({ length: 8 }, writer), killer]);
    const killed = await killer;
    const hit = await pinned;

    const rows = await queryRows(
      deps.db,
      z.object({ marker: z.string() }),
      sql`SELECT details->>'marker' AS marker FROM audit_log WHERE action = 'fault.write'`,
    );
    const stored = new Set(rows.map((r) => r.marker));
    const lost = acknowledged.filter((m) => !stored.has(m));
    console.log(
      `[fault pg-kill] ${killed} backends terminated; the pinned call answered ${hit.status}; ${acknowledged.length} writes acknowledged, ${failures.length} failed ` +
        `(statuses ${[...new Set(failures.map((f) => f.status))].join(',') || '-'}); ${lost.length} acknowledged writes missing; ` +
        `${afterKill.filter((s) => s === 200).length}/${afterKill.length} calls started 200 ms after the kill or later succeeded`,
    );
    // The fault happened: backends were killed, and the call in flight on one of them failed
    // as a lost connection (not as a busy pool), before the outcome is judged.
    expect(killed).toBeGreaterThan(0);
    expect(hit.status).toBe(503);
    expect(JSON.parse(hit.body).error.json.message).toBe('The database is unavailable; retry shortly');
    expect(lost).toEqual([]);
    for (const f of [hit, ...failures]) {
      expect(f.status).toBe(503);
      expect(leaksInternals(f.body)).toBe(false);
    }
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(afterKill.length).toBeGreaterThan(2);
    expect(afterKill.every((s) => s === 200)).toBe(true);
  });

  it('answers 503 within 1 s when slow queries hold every pooled connection', async () => {
    const slow = Array.from({ length: POOL_MAX }, () => query('faults.sleep', { seconds: 2 }));
    await sleep(200); // the slow ones now hold the pool
    const extra = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const started = performance.now();
        const res = await query('subscriptions.plans');
        const body = await res.text();
        return { status: res.status, ms: performance.now() - started, body };
      }),
    );
    const ms = extra.map((e) => e.ms);
    console.log(
      `[fault pool] pool ${POOL_MAX}, wait ${POOL_WAIT_MS} ms: ${extra.length} extra requests answered ` +
        `${[...new Set(extra.map((e) => e.status))].join(',')} in ${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)} ms (p50 ${percentile(ms, 50).toFixed(0)} ms)`,
    );
    for (const e of extra) {
      expect(e.status).toBe(503);
      expect(e.ms).toBeLessThan(1000);
      expect(JSON.parse(e.body).error.json.data.code).toBe('SERVICE_UNAVAILABLE');
      expect(leaksInternals(e.body)).toBe(false);
    }
    const metrics = await (
      await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(/db_pool_connections_in_use\{pool="primary"\} 4/);
    // The 6 refused here (and any other request of this suite's that waited its turn out).
    const refused = Number(/db_pool_wait_timeouts_total\{pool="primary"\} (\d+)/.exec(metrics)?.[1]);
    expect(refused).toBeGreaterThanOrEqual(6);
    // The slow ones finish, and the pool serves again.
    for (const res of await Promise.all(slow)) expect(res.status).toBe(200);
    expect((await query('subscriptions.plans')).status).toBe(200);
  });

  it('turns a statement timeout into a clean 504 and keeps using the connection', async () => {
    const res = await query('faults.timeout');
    const body = await res.text();
    expect(res.status).toBe(504);
    expect(JSON.parse(body).error.json.message).toBe('The database took too long to answer');
    expect(leaksInternals(body)).toBe(false);
    // One connection only: the backend that timed out serves the next statement.
    const one = await createDatabase({ url: testDb.url, poolMax: 1 });
    try {
      const pid = async () =>
        (await queryRows(one.db, z.object({ pid: num }), sql`SELECT pg_backend_pid() AS pid`))[0]!.pid;
      const before = await pid();
      const err = await one.db
        .transaction(async (tx) => {
          await tx.execute(sql`SET LOCAL statement_timeout = 100`);
          await tx.execute(sql`SELECT pg_sleep(1)`);
        })
        .catch((e: unknown) => e);
      expect(classifyDbError(err)).toBe('statement_timeout');
      expect(await pid()).toBe(before);
    } finally {
      await one.close();
    }
  });
});
