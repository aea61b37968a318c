// DATABASE_REPLICA_URLS against a real streaming replica (initdb + pg_basebackup of a
// primary of the test's own): two API hosts on the same pair and Redis, one allowing 10 s
// of replica lag (R), one 500 ms (P). With WAL replay paused on the replica: R serves a
// read-only call from the replica (a row written straight to the primary is not there
// yet), P skips the lagging replica; a caller who just wrote reads from the primary on R,
// also when the write went through P (the window is shared in Redis), and from the replica
// again once the window has passed. Then the replica is stopped:
// the very next reads answer 200 from the primary, /readyz stays 200, and the metrics count
// the fallbacks and show the replica down.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../db/client.ts';
import { ADMIN, ADMIN_ENV } from './accounts.ts';
import { sleep } from './faults/support.ts';
import { NOTICE, REAL_REDIS_URL } from './helpers.ts';
import { signIn } from './server.ts';
import { type Host, startHost } from './support/host.ts';
import { scaled } from './support/load.ts';
import { HAVE_PG_BINARIES, type PgPair, startPgPair } from './support/pg-replica.ts';

if (!HAVE_PG_BINARIES)
  console.warn('[replicas.test] SKIPPED: the PostgreSQL server binaries are not installed');

/** /metrics answers only a bearer of METRICS_TOKEN. */
const METRICS_TOKEN = randomBytes(24).toString('hex');
const scraper = { authorization: `Bearer ${METRICS_TOKEN}` };

describe.skipIf(!HAVE_PG_BINARIES || !REAL_REDIS_URL)('read replicas (a real streaming replica)', () => {
  let pair: PgPair;
  let primary: postgres.Sql;
  let r: Host;
  let p: Host;
  beforeAll(async () => {
    pair = await startPgPair();
    const admin = postgres(pair.primaryUrl('postgres'), { max: 1, onnotice: () => {} });
    await admin`CREATE DATABASE app`;
    await admin.end();
    const migrator = await createDatabase({ url: pair.primaryUrl('app'), poolMax: 1 });
    await migrator.migrate();
    await migrator.close();
    primary = postgres(pair.primaryUrl('app'), { max: 1, onnotice: () => {} });
    const env = {
      ...ADMIN_ENV,
      DATABASE_URL: pair.primaryUrl('app'),
      DATABASE_REPLICA_URLS: pair.replicaUrl('app'),
      DATABASE_POOL_MAX: '4',
      REDIS_URL: REAL_REDIS_URL!,
      JWT_SECRET: randomBytes(32).toString('hex'),
      // Its own namespace on the shared Redis (the read-your-writes keys hang off it).
      JWT_ISSUER: `replicas-${randomBytes(4).toString('hex')}`,
      METRICS_TOKEN,
    };
    r = await startHost({ ...env, DATABASE_REPLICA_MAX_LAG_MS: '10000' });
    p = await startHost({ ...env, DATABASE_REPLICA_MAX_LAG_MS: '500' });
  }, scaled(60_000));
  afterAll(async () => {
    await r?.close();
    await p?.close();
    await primary?.end();
    pair?.stop();
  });

  const audit = async (host: Host, token: string) =>
    (await host.client(token).admin.audit.list.query({ limit: 20 })).items.map((e) => e.details?.marker);

  it('reads within the lag bound on the replica, beyond it and after the caller’s write on the primary; a stopped replica costs no failed request', {
    timeout: scaled(60_000),
  }, async () => {
    // The admin's login and consent are writes through P: their window (1.5 s) passes first.
    // Staff complete the sign-in with a second factor (a passkey the helper enrols).
    const login = await signIn(p, ADMIN);
    const token = (await p.client(login.accessToken).privacy.acceptNotice.mutate({ version: NOTICE }))
      .accessToken;
    await sleep(1600);

    pair.pauseReplay();
    await primary`INSERT INTO audit_log (action, details) VALUES ('admin.views.refresh', ${primary.json({ marker: 'straight-to-primary' })})`;
    await sleep(1200); // both hosts measure the lag once more
    const onR = await audit(r, token);
    const onP = await audit(p, token);
    expect(onR).not.toContain('straight-to-primary'); // R read the (lagging) replica
    expect(onP).toContain('straight-to-primary'); // P skipped it: beyond 500 ms

    // Read-your-writes across hosts: a write through P, read back at once on R (the window
    // is in Redis); once it has passed, R reads the paused replica again.
    await p.client(token).admin.views.refresh.mutate();
    expect(await audit(r, token)).toContain('straight-to-primary');
    await sleep(1600);
    expect(await audit(r, token)).not.toContain('straight-to-primary');
    // And the caller's own write on R, read back at once on R.
    await r.client(token).admin.views.refresh.mutate();
    const afterOwnWrite = await r.client(token).admin.audit.list.query({ limit: 20 });
    expect(afterOwnWrite.items.map((e) => e.details?.marker)).toContain('straight-to-primary');
    const metricsR = await (await fetch(`${r.url}/metrics`, { headers: scraper })).text();
    expect(metricsR).toMatch(/db_replica_fallbacks_total\{reason="read_your_writes"\} [1-9]/);
    expect(metricsR).toMatch(/db_replica_lag_seconds\{replica="replica0"\} \d/);
    expect(metricsR).toMatch(/db_replica_up\{replica="replica0"\} 1/);
    pair.resumeReplay();

    // The replica stops: the next anonymous reads (no window) answer 200 at once.
    await sleep(300);
    pair.stopReplica();
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      for (const host of [r, p]) {
        const res = await fetch(`${host.url}/trpc/subscriptions.plans`);
        statuses.push(res.status);
      }
    }
    const ready = [(await fetch(`${r.url}/readyz`)).status, (await fetch(`${p.url}/readyz`)).status];
    await sleep(1200);
    const metrics = await (await fetch(`${r.url}/metrics`, { headers: scraper })).text();
    const fallbacks = metrics.match(/db_replica_fallbacks_total\{reason="(error|unhealthy)"\} \d+/g);
    console.log(
      `[replicas.test] replica stopped: plans ${statuses.join(',')}; /readyz ${ready.join(',')}; fallbacks on R: ${fallbacks?.join(', ')}`,
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(ready).toEqual([200, 200]);
    expect(metrics).toMatch(/db_replica_up\{replica="replica0"\} 0/);
    expect(fallbacks?.length).toBeGreaterThan(0);
  });
});
