// `npm run bench:insights -- --users 1000000`: the Premium dashboard (insights.*) at scale.
// Uses a database of its own (manas360_insights_<N>), bulk-seeded if short (N users, 3 mood
// entries per patient, scripts/bulk-seed.ts), plus two PHQ-9 results per patient and 100
// "heavy" patients (99: bulk users 1–99) with a year of history (3 mood entries a day with tags, a PHQ-9 and a
// GAD-7 every two weeks). Then calls each insights procedure through the router (the real
// middleware and the domain SQL, claims injected) for random patients, sequentially, and
// prints per-procedure p50/p95/p99 wall time, the API process's CPU time per call (p50;
// Postgres runs in its own processes) and statements per call, for typical and
// heavy patients, and EXPLAIN (ANALYZE, BUFFERS) of each statement for a heavy patient.
// Writes bench/results/insights-<N>.json.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { countQueries, type Executor, queryRows } from '../db/client.ts';
import { countRow, idRow } from '../db/row.ts';
import { bulkUserIdSql } from '../scripts/bulk-users.ts';
import { loadConfig } from '../server/config.ts';
import { closeDeps, createDeps } from '../server/create-services.ts';
import { assessmentTrajectory, moodStreaks, moodTrend, tagsVsMood } from '../server/domain/insights.ts';
import { appRouter } from '../server/routers/index.ts';
import { createContextInner } from '../server/trpc/context.ts';
import { createCallerFactory } from '../server/trpc/init.ts';
import { ensureDatabase } from './seed.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '1000000' },
    samples: { type: 'string', default: '2000' },
  },
});
const USERS = Number(args.users);
const SAMPLES = Number(args.samples);
const HEAVY = 100;
const ROOT = new URL('..', import.meta.url).pathname;
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (m: string) => console.error(`[insights] ${m}`);

const name = `manas360_insights_${USERS}`;
const url = await ensureDatabase(BASE_URL, name);
const config = loadConfig({
  NODE_ENV: 'development',
  DATABASE_URL: url,
  LOG_LEVEL: 'warn',
  JOBS_ENABLED: 'false',
});
const deps = await createDeps(config);
const db = deps.db;
const count = async (q: SQL) => (await queryRows(db, countRow, q))[0]!.n;

if (
  (await count(sql`SELECT count(*)::int AS n FROM users WHERE email LIKE '%@bulk.manas360.test'`)) < USERS
) {
  log(`seeding ${name} with scripts/bulk-seed.ts (${USERS} users, 3 mood entries each) ...`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts/bulk-seed.ts'),
      '--users',
      String(USERS),
      '--mood',
      '3',
      '--batch',
      '25000',
    ],
    { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (r.status !== 0) throw new Error('bulk seed failed');
}
const patient = (g: string) => sql.raw(`${bulkUserIdSql(g)}`);
if ((await count(sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM assessments LIMIT 1) a`)) === 0) {
  log('adding two PHQ-9 results per patient ...');
  for (let from = 1; from <= USERS; from += 50_000) {
    const to = Math.min(USERS, from + 49_999);
    await db.execute(sql`
      INSERT INTO assessments (user_id, instrument, answers, score, severity, created_at)
      SELECT ${patient('g')}, 'PHQ9', ARRAY[s, s, s, 0, 0, 0, 0, 0, 0]::smallint[], 3 * s,
             CASE WHEN 3 * s <= 4 THEN 'minimal' ELSE 'mild' END, now() - make_interval(days => 14 * k)
      FROM generate_series(${from}::int, ${to}::int) g CROSS JOIN generate_series(1, 2) k,
           LATERAL (SELECT ((g + k) % 3)::smallint AS s) x
      WHERE g % 100 <> 0`);
  }
}
// Heavy patients: g = 1..HEAVY-1 (therapists are the multiples of 100).
if ((await count(sql`SELECT count(*)::int AS n FROM mood_entries WHERE user_id = ${patient('1')}`)) < 100) {
  log(`adding a year of history for ${HEAVY - 1} heavy patients ...`);
  await db.execute(sql`
    INSERT INTO mood_entries (user_id, score, tags, created_at)
    SELECT ${patient('g')}, 1 + (g + h) % 10,
           CASE h % 4 WHEN 0 THEN ARRAY['sleep', 'work'] WHEN 1 THEN ARRAY['exercise']
                      WHEN 2 THEN ARRAY['family', 'sleep'] ELSE ARRAY['work'] END,
           now() - make_interval(hours => 8 * h)
    FROM generate_series(1, ${HEAVY - 1}) g CROSS JOIN generate_series(1, 3 * 365) h`);
  await db.execute(sql`
    INSERT INTO assessments (user_id, instrument, answers, score, severity, created_at)
    SELECT ${patient('g')}, i, CASE WHEN i = 'PHQ9' THEN ARRAY[s, s, s, s, 0, 0, 0, 0, 0] ELSE ARRAY[s, s, s, s, 0, 0, 0] END::smallint[],
           4 * s, CASE WHEN 4 * s <= 4 THEN 'minimal' WHEN 4 * s <= 9 THEN 'mild' ELSE 'moderate' END,
           now() - make_interval(days => 14 * k)
    FROM generate_series(1, ${HEAVY - 1}) g CROSS JOIN generate_series(1, 26) k CROSS JOIN unnest(ARRAY['PHQ9', 'GAD7']) i,
         LATERAL (SELECT ((g + k) % 4)::smallint AS s) x`);
  await db.execute(sql`ANALYZE`);
}
log(
  `mood_entries ${await count(sql`SELECT count(*)::int AS n FROM mood_entries`)}, assessments ${await count(sql`SELECT count(*)::int AS n FROM assessments`)}`,
);

const caller = createCallerFactory(appRouter);
/** A Premium patient's claims, as a verified token would carry them. */
const asPatient = (sub: string) =>
  caller(
    createContextInner({
      deps,
      auth: {
        sub,
        email: 'bench@bulk.manas360.test',
        role: 'patient',
        privilegeLevel: 10,
        permissions: ['insights.read'],
        features: ['premium_dashboard'],
        plan: 'premium',
        sid: '00000000-0000-4000-8000-000000000000',
        jti: 'bench',
        iat: 0,
        exp: 0,
        iss: config.JWT_ISSUER,
        aud: config.JWT_AUDIENCE,
      },
    }),
  );

type Proc = 'moodTrend' | 'streaks' | 'tags' | 'assessments';
const PROCS: Record<Proc, (c: ReturnType<typeof asPatient>) => Promise<unknown>> = {
  moodTrend: (c) => c.insights.moodTrend({ days: 90 }),
  streaks: (c) => c.insights.streaks(),
  tags: (c) => c.insights.tags({ days: 90 }),
  assessments: (c) => c.insights.assessments({}),
};

const planRow = z.object({ 'QUERY PLAN': z.string() });

async function userId(g: number): Promise<string> {
  return (await queryRows(db, idRow, sql`SELECT ${patient(`${g}`)} AS id`))[0]!.id;
}
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function measure(kind: 'typical' | 'heavy', n: number) {
  const picks: string[] = [];
  for (let i = 0; i < n; i += 1) {
    let g =
      kind === 'heavy' ? 1 + (i % (HEAVY - 1)) : HEAVY + 1 + Math.floor(Math.random() * (USERS - HEAVY - 1));
    if (g % 100 === 0) g += 1; // therapists have no patient data
    picks.push(await userId(g));
  }
  const out: Record<string, { p50: number; p95: number; p99: number; cpuP50: number; queries: number }> = {};
  for (const [proc, call] of Object.entries(PROCS)) {
    const times: number[] = [];
    const cpu: number[] = [];
    let maxQueries = 0;
    for (const [i, id] of picks.entries()) {
      const c = asPatient(id);
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const { queries } = await countQueries(() => call(c));
      const wall = performance.now() - started;
      const used = process.cpuUsage(cpuBefore);
      if (i >= 20 || n <= 20) {
        // the first calls warm up
        times.push(wall);
        cpu.push((used.user + used.system) / 1000);
      }
      maxQueries = Math.max(maxQueries, queries);
    }
    times.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    const r = {
      p50: pct(times, 50),
      p95: pct(times, 95),
      p99: pct(times, 99),
      cpuP50: pct(cpu, 50),
      queries: maxQueries,
    };
    out[proc] = r;
    log(
      `${kind.padEnd(7)} insights.${proc.padEnd(11)} p50 ${r.p50.toFixed(2)} ms  p95 ${r.p95.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  server CPU p50 ${r.cpuP50.toFixed(2)} ms  statements ${maxQueries}`,
    );
  }
  return out;
}

/** EXPLAIN (ANALYZE, BUFFERS) of every statement the domain function runs. */
async function explain(label: string, run: (ex: Executor) => Promise<unknown>) {
  const captured: SQL[] = [];
  const spy = {
    execute(q: SQL) {
      captured.push(q);
      return db.execute(q);
    },
  } as unknown as Executor;
  await run(spy);
  for (const q of captured) {
    const plan = await queryRows(db, planRow, sql`EXPLAIN (ANALYZE, BUFFERS) ${q}`);
    console.log(`\n--- ${label}\n${plan.map((r) => r['QUERY PLAN']).join('\n')}`);
  }
}

const typical = await measure('typical', SAMPLES);
const heavy = await measure('heavy', Math.min(SAMPLES, 500));
const heavyId = await userId(1);
await explain('insights.moodTrend (90 days, heavy patient)', (ex) => moodTrend(ex, heavyId, { days: 90 }));
await explain('insights.streaks (heavy patient)', (ex) => moodStreaks(ex, heavyId));
await explain('insights.tags (90 days, heavy patient)', (ex) => tagsVsMood(ex, heavyId, { days: 90 }));
await explain('insights.assessments (heavy patient)', (ex) =>
  assessmentTrajectory(ex, heavyId, { days: 365 }),
);
writeFileSync(
  join(ROOT, `bench/results/insights-${USERS}.json`),
  `${JSON.stringify({ users: USERS, samples: SAMPLES, at: new Date().toISOString(), typical, heavy }, null, 2)}\n`,
);
await closeDeps(deps);
