import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createDatabase } from '../db/client.ts';
import type { ViewRefresh } from '../db/views.ts';
import { RevocationList } from '../server/auth/revocation.ts';
import { loadConfig } from '../server/config.ts';
import { createLogger } from '../server/create-services.ts';
import { viewRefreshJob, withJobLock } from '../server/jobs/index.ts';
import { bulkSeed, ensureDatabase } from './seed.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    readers: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
  },
});
const USERS = Number(args.users);
const READERS = Number(args.readers);
const ROOT = new URL('..', import.meta.url).pathname;
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (m: string) => console.error(`[views] ${m}`);

const name = `manas360_views_${USERS}`;
const url = await ensureDatabase(BASE_URL, name);
const raw = postgres(url, { max: READERS + 2, onnotice: () => {} });
const [{ n: have }] = (await raw`SELECT count(*)::int AS n FROM users`) as unknown as [{ n: number }];
if (have < USERS) {
  log(`seeding ${USERS - have} users into ${name} with scripts/bulk-seed.ts ...`);
  const started = performance.now();
  bulkSeed(url, USERS);
  log(`seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await raw`ANALYZE`;
}

const config = loadConfig({ NODE_ENV: 'development', DATABASE_URL: url, LOG_LEVEL: 'warn' });
// The job's lock transaction plus one connection per view (the refresh runs them at once).
const database = await createDatabase({ url, poolMax: 4 });
const jobDeps = { config, database, log: createLogger(config), revocations: new RevocationList() };
/** The scheduled refresh as the job runs it: under its advisory lock, skipped when fresh. */
const runJob = async () => {
  const res = await withJobLock(database, viewRefreshJob.lockId, (tx) => viewRefreshJob.work(tx, jobDeps));
  return (res.locked ? res.value : undefined) as { views: ViewRefresh[] } | undefined;
};

// The first refresh after the seed fills the views (timed, not the steady state).
const t0 = performance.now();
const initial = await runJob();
const initialMs = performance.now() - t0;
log(`first refresh after the seed: ${initialMs.toFixed(0)} ms${initial ? '' : ' (skipped: already fresh)'}`);

// Readers: what the admin dashboard and analytics read from the views.
const [{ id: someUser }] = (await raw`SELECT user_id AS id FROM mv_user_permissions LIMIT 1`) as unknown as [
  { id: string },
];
async function readOnce(i: number): Promise<number> {
  const t = performance.now();
  if (i % 3 === 0)
    await raw`SELECT * FROM mv_users_with_subscription WHERE role = 'patient' ORDER BY user_id LIMIT 50`;
  else if (i % 3 === 1) await raw`SELECT * FROM mv_user_permissions WHERE user_id = ${someUser}`;
  else await raw`SELECT plan, count(*) FROM mv_user_features GROUP BY plan`;
  return performance.now() - t;
}
function readerLoop(stop: { done: boolean }) {
  const lat: number[] = [];
  const loops = Array.from({ length: READERS }, async (_, r) => {
    for (let i = r; !stop.done; i++) lat.push(await readOnce(i));
  });
  return { lat, finished: Promise.all(loops) };
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;
};

// Baseline reads (no refresh running).
const base = { done: false };
const baseline = readerLoop(base);
await new Promise((r) => setTimeout(r, 2000));
base.done = true;
await baseline.finished;

const rounds: Array<{
  totalMs: number;
  views: ViewRefresh[];
  reads: number;
  readMaxMs: number;
  readP99Ms: number;
}> = [];
for (let round = 0; round < Number(args.rounds); round++) {
  // A change, so the job does not skip: one user renamed (a statement trigger bumps the marker).
  await raw`UPDATE users SET name = name WHERE id = ${someUser}`;
  const stop = { done: false };
  const readers = readerLoop(stop);
  const t = performance.now();
  const out = await runJob();
  const totalMs = performance.now() - t;
  stop.done = true;
  await readers.finished;
  if (!out) throw new Error('the job skipped although a base table changed');
  rounds.push({
    totalMs,
    views: out.views,
    reads: readers.lat.length,
    readMaxMs: Math.max(...readers.lat),
    readP99Ms: pct(readers.lat, 99),
  });
  log(
    `refresh ${round + 1}: ${totalMs.toFixed(0)} ms (${out.views.map((v) => `${v.name} ${v.ms.toFixed(0)} ms`).join(', ')}); ` +
      `${readers.lat.length} reads during it, worst ${Math.max(...readers.lat).toFixed(1)} ms`,
  );
}

// Nothing changed since: the job only checks the change marker.
const skips: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  const out = await runJob();
  skips.push(performance.now() - t);
  if (out) throw new Error('the job refreshed although nothing changed');
}

const result = {
  at: new Date().toISOString(),
  command: `npm run bench:views -- --users ${USERS}`,
  users: USERS,
  readers: READERS,
  initialRefreshMs: initial ? initialMs : null,
  baseline: {
    reads: baseline.lat.length,
    p50Ms: pct(baseline.lat, 50),
    p99Ms: pct(baseline.lat, 99),
    maxMs: Math.max(...baseline.lat),
  },
  rounds,
  skip: { runs: skips.length, medianMs: pct(skips, 50), maxMs: Math.max(...skips) },
};
log(
  `baseline reads p99 ${result.baseline.p99Ms.toFixed(1)} ms, max ${result.baseline.maxMs.toFixed(1)} ms; ` +
    `skip when unchanged: median ${result.skip.medianMs.toFixed(2)} ms`,
);
writeFileSync(join(ROOT, `bench/results/views-${USERS}.json`), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
await database.close();
await raw.end();
