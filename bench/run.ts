// `npm run bench`: the benchmark harness. Starts each server (bench/server.ts) pinned to
// core 0 on real PostgreSQL with bulk-seeded users, drives it with autocannon pinned to
// core 1 (bench/load.ts), and reports requests/s, p50/p95/p99, error rate, SQL queries
// per request and RSS, side by side: raw node:http, tRPC's official Fastify adapter and
// the product's lean path. Writes bench/results/<stamp>.json, latest.json and latest.md.
//
// Flags: --duration S (10) --connections N (50) --users N (100000 seeded)
//        --tokens N (5000 distinct users' tokens) --only a,b (scenario ids) --profile
//        --port N (3190) --database NAME (manas360_bench; two checkouts benching at once
//        need their own port and database)
// Env: DATABASE_URL (the server to use; the bench creates database manas360_bench on it).
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildKeyRing, generatePrivateJwk, parsePrivateKeys } from '../server/auth/keys.ts';
import { TokenService } from '../server/auth/tokens.ts';
import type { LoadResult, LoadSpec } from './load.ts';
import { type MixData, prepareMixData } from './mix.ts';
import { backendCpu, backendCpuDelta } from './pg-cpu.ts';
import { type ProfileEntry, topSelfTime } from './profile.ts';
import { renderReport } from './report.ts';
import { type BenchUser, ensureDatabase, ensureUsers, sampleUsers, vacuum } from './seed.ts';
import { startBenchServer } from './spawn.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    users: { type: 'string', default: '100000' },
    tokens: { type: 'string', default: '5000' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'latency-rate': { type: 'string', default: '2000' },
    port: { type: 'string', default: '3190' },
    database: { type: 'string', default: 'manas360_bench' },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const USERS = Number(args.users);
const TOKENS = Number(args.tokens);
const ROOT = new URL('..', import.meta.url).pathname;
const RESULTS = join(ROOT, 'bench/results');
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (m: string) => console.error(`[bench] ${m}`);

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && cpus().length >= 2;
const pin = (core: number, cmd: string[]) => (hasTaskset ? ['taskset', '-c', String(core), ...cmd] : cmd);

export interface ScenarioResult extends LoadResult {
  id: string;
  /** lean-pooler: the lean path in DATABASE_POOLER=transaction mode (no named prepared statements). */
  server: ServerKind;
  procedure: string;
  label: string;
  rateLimited?: number;
  queriesPerRequest: number;
  /** The server process's CPU time (user + system) over the run divided by requests. */
  cpuUsPerRequest: number;
  /** PostgreSQL backends' CPU time (from /proc) over the run divided by requests; null: not readable. */
  dbCpuUsPerRequest: number | null;
  rssMB: number;
  tokenCacheHitRate: number | null;
  /** 1-minute load average when the scenario ended: above ~2 (server + load generator), something else was running. */
  loadAvg: number;
}

interface Scenario {
  id: string;
  label: string;
  procedure: string;
  path: string;
  auth: boolean;
  rate?: number;
  connections?: number;
  /** The mixed workload (bench/mix.ts) instead of one path. */
  mix?: boolean;
}

// --- Data and tokens ------------------------------------------------------------------
const DB_NAME = args.database;
log(`database: ${BASE_URL.replace(/\/\/[^@/]*@/, '//***@')} → ${DB_NAME}`);
const dbUrl = await ensureDatabase(BASE_URL, DB_NAME);
await ensureUsers(dbUrl, USERS, log);
log(
  `VACUUM (ANALYZE) of the bench database (autovacuum is ${(await vacuum(dbUrl)) ? 'on' : 'OFF on this server'})`,
);
const jwk = await generatePrivateJwk();
const JWT_PRIVATE_KEYS = JSON.stringify({ keys: [jwk] });
const tokens = new TokenService({
  keys: await buildKeyRing(parsePrivateKeys(JWT_PRIVATE_KEYS)),
  issuer: 'manas360',
  audience: 'manas360-api',
  ttlSeconds: 3600,
});
const sample = await sampleUsers(dbUrl, TOKENS);
const signed = await Promise.all(sample.map((u) => tokens.sign(u, crypto.randomUUID())));
mkdirSync(RESULTS, { recursive: true });
const tokensFile = join(RESULTS, 'tokens.tmp');
writeFileSync(tokensFile, signed.map((s) => s.token).join('\n'));
log(`${sample.length} bench users' access tokens signed (EdDSA)`);

// The mixed workload's callers (bench/mix.ts): patients, patients who may book, therapists,
// the bench admin; bookable therapists; single-use refresh tokens.
const mixFile = join(RESULTS, 'mix.tmp');
async function prepareMix() {
  const prepared = await prepareMixData(
    dbUrl,
    sample.map((u) => u.id),
    Math.ceil(DURATION * 3000 * 0.02) + 500,
  );
  const signAll = async (users: BenchUser[]) =>
    Promise.all(users.map(async (u) => (await tokens.sign(u, crypto.randomUUID())).token));
  const data: MixData = {
    tokens: {
      patient: signed.map((s) => s.token),
      booker: signed.filter((_, i) => sample[i]!.features.includes('therapist_booking')).map((s) => s.token),
      therapist: await signAll(await sampleUsers(dbUrl, 200, 'therapist')),
      admin: await signAll(await sampleUsers(dbUrl, 1, 'admin')),
    },
    therapistIds: prepared.therapistIds,
    refreshTokens: prepared.refreshTokens,
  };
  writeFileSync(mixFile, JSON.stringify(data));
  log(
    `mix: ${data.tokens.booker.length} booking patients, ${data.therapistIds.length} therapists, ${data.refreshTokens.length} refresh tokens`,
  );
}

// --- Servers --------------------------------------------------------------------------
const PORT = Number(args.port);
const profileDir = join(RESULTS, 'profiles');

type ServerKind = 'raw' | 'official' | 'lean' | 'lean-pooler';

function startServer(kind: ServerKind): Promise<ChildProcess> {
  return startBenchServer({
    mode: kind === 'raw' ? 'raw' : 'app',
    port: PORT,
    dbUrl,
    nodeArgs: args.profile && kind !== 'raw' ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, kind)] : [],
    wrap: (cmd) => pin(0, cmd),
    env: {
      JWT_PRIVATE_KEYS,
      JWT_SECRET: '',
      ACCESS_TOKEN_TTL_SECONDS: '3600',
      TRPC_PATH: kind === 'official' ? 'official' : 'lean',
      // The transaction-pooler mode of docs/decisions/transaction-pooler.md, straight to
      // PostgreSQL: what the statements cost without named prepared statements.
      ...(kind === 'lean-pooler' ? { DATABASE_POOLER: 'transaction' } : {}),
    },
  });
}

async function stopServer(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function stats(): Promise<{
  queries: number;
  cpuUs: number;
  rss: number;
  tokenCache?: { hits: number; misses: number };
}> {
  return (await fetch(`http://127.0.0.1:${PORT}/bench/stats`)).json() as never;
}

async function load(spec: LoadSpec): Promise<LoadResult> {
  const file = join(RESULTS, 'load-spec.tmp');
  writeFileSync(file, JSON.stringify(spec));
  const cmd = pin(1, [process.execPath, '--import', 'tsx', join(ROOT, 'bench/load.ts'), file]);
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`load generator failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as LoadResult;
}

async function measure(server: ScenarioResult['server'], s: Scenario): Promise<ScenarioResult> {
  const spec: LoadSpec = {
    url: `http://127.0.0.1:${PORT}${s.path}`,
    connections: s.connections ?? CONNECTIONS,
    durationSeconds: DURATION,
    ...(s.auth ? { tokensFile } : {}),
    ...(s.mix ? { mixFile } : {}),
    ...(s.rate ? { rate: s.rate } : {}),
  };
  // Warm-up: JIT, pool connections, the verified-token cache.
  await load({ ...spec, durationSeconds: Math.min(3, DURATION), rate: undefined });
  const before = await stats();
  const dbBefore = backendCpu(DB_NAME);
  const r = await load(spec);
  const dbAfter = backendCpu(DB_NAME);
  const after = await stats();
  const requests = Math.max(1, r.requests);
  const ok = Math.max(1, r.requests - r.non2xx);
  const hits = after.tokenCache && before.tokenCache ? after.tokenCache.hits - before.tokenCache.hits : 0;
  const misses =
    after.tokenCache && before.tokenCache ? after.tokenCache.misses - before.tokenCache.misses : 0;
  const result: ScenarioResult = {
    ...r,
    id: s.id,
    server,
    procedure: s.procedure,
    label: s.label,
    queriesPerRequest: (after.queries - before.queries) / ok,
    cpuUsPerRequest: (after.cpuUs - before.cpuUs) / requests,
    dbCpuUsPerRequest: dbAfter.size > 0 ? backendCpuDelta(dbBefore, dbAfter) / requests : null,
    rssMB: after.rss / 1024 / 1024,
    tokenCacheHitRate: hits + misses > 0 ? hits / (hits + misses) : null,
    loadAvg: loadavg()[0]!,
  };
  log(
    `${s.id.padEnd(28)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} p95 ${r.p95.toFixed(2)} p99 ${r.p99.toFixed(2)} ms  ` +
      `err ${(r.errorRate * 100).toFixed(2)} %  q/req ${result.queriesPerRequest.toFixed(2)}  ` +
      `cpu ${result.cpuUsPerRequest.toFixed(0)} µs/req  db ${result.dbCpuUsPerRequest?.toFixed(0) ?? '-'} µs/req  rss ${result.rssMB.toFixed(0)} MB`,
  );
  return result;
}

const me = '/trpc/auth.me';
const SCENARIOS: Record<ServerKind, Scenario[]> = {
  raw: [{ id: 'raw', label: 'raw node:http, ~300 B JSON', procedure: '-', path: '/', auth: false }],
  official: [
    { id: 'official-me', label: 'auth.me (gated, 0 queries)', procedure: 'auth.me', path: me, auth: true },
    {
      id: 'official-typical',
      label: 'typical (2 queries)',
      procedure: 'bench.typical',
      path: '/bench/trpc/typical',
      auth: true,
    },
    {
      id: 'official-before',
      label: '"before" design (8 queries)',
      procedure: 'bench.before',
      path: '/bench/trpc/before',
      auth: true,
    },
  ],
  lean: [
    { id: 'lean-me', label: 'auth.me (gated, 0 queries)', procedure: 'auth.me', path: me, auth: true },
    {
      id: 'lean-plans',
      label: 'subscriptions.plans (public, 1 query)',
      procedure: 'subscriptions.plans',
      path: '/trpc/subscriptions.plans',
      auth: false,
    },
    {
      id: 'lean-typical',
      label: 'typical (2 queries)',
      procedure: 'bench.typical',
      path: '/bench/trpc/typical',
      auth: true,
    },
    {
      id: 'lean-typical-prepared',
      label: 'typical (2 prepared queries)',
      procedure: 'bench.typicalPrepared',
      path: '/bench/trpc/typicalPrepared',
      auth: true,
    },
    {
      id: 'lean-before',
      label: '"before" design (8 queries)',
      procedure: 'bench.before',
      path: '/bench/trpc/before',
      auth: true,
    },
    {
      id: 'lean-typical-at-rate',
      label: `typical (2 queries) at a fixed ${args['latency-rate']} req/s`,
      procedure: 'bench.typical',
      path: '/bench/trpc/typical',
      auth: true,
      rate: Number(args['latency-rate']),
    },
    {
      // The shape of the product's hot reads, which are prepared (users.profile,
      // assessments.history, therapists.list, therapy.mine, mood.log).
      id: 'lean-typical-prepared-at-rate',
      label: `typical (2 prepared queries) at a fixed ${args['latency-rate']} req/s`,
      procedure: 'bench.typicalPrepared',
      path: '/bench/trpc/typicalPrepared',
      auth: true,
      rate: Number(args['latency-rate']),
    },
    {
      id: 'lean-mixed',
      label: 'mixed workload (capacity plan Scenario 2: 14 procedures by weight)',
      procedure: 'mix',
      path: '/',
      auth: false,
      mix: true,
    },
  ],
  // Both database modes side by side: the same procedures without named prepared statements.
  'lean-pooler': [
    {
      id: 'pooler-typical',
      label: 'typical (2 queries), transaction-pooler mode',
      procedure: 'bench.typical',
      path: '/bench/trpc/typical',
      auth: true,
    },
    {
      id: 'pooler-mood-list',
      label: 'mood.list (1 query), transaction-pooler mode',
      procedure: 'mood.list',
      path: `/trpc/mood.list?input=${encodeURIComponent(JSON.stringify({ json: { limit: 20 } }))}`,
      auth: true,
    },
    {
      id: 'pooler-mixed',
      label: 'mixed workload, transaction-pooler mode',
      procedure: 'mix',
      path: '/',
      auth: false,
      mix: true,
    },
  ],
};
const only = args.only ? new Set(args.only.split(',')) : undefined;

// mood.list (engineer B's) when the router has it: a real product procedure, 1 query.
const MOOD_LIST = {
  id: 'lean-mood-list',
  label: 'mood.list (1 query)',
  procedure: 'mood.list',
  path: `/trpc/mood.list?input=${encodeURIComponent(JSON.stringify({ json: { limit: 20 } }))}`,
  auth: true,
};

if (loadavg()[0]! > 1)
  log(
    `WARNING: load average ${loadavg()[0]!.toFixed(1)} before the run: other work on this machine skews the figures`,
  );
const results: ScenarioResult[] = [];
const profiles: Record<string, ProfileEntry[]> = {};
for (const server of ['raw', 'official', 'lean', 'lean-pooler'] as const) {
  const list = SCENARIOS[server].filter((s) => !only || only.has(s.id));
  if (server === 'lean' && (!only || only.has(MOOD_LIST.id))) list.splice(3, 0, MOOD_LIST);
  if (list.length === 0) continue;
  if (list.some((s) => s.mix)) await prepareMix();
  log(`starting the ${server} server on core 0 ...`);
  const child = await startServer(server);
  try {
    const procedures =
      server === 'raw' ? [] : (((await stats()) as { procedures?: string[] }).procedures ?? []);
    for (const s of list) {
      if (s.id === MOOD_LIST.id && !procedures.includes('mood.list')) continue;
      results.push(await measure(server, s));
    }
  } finally {
    await stopServer(child);
  }
  if (args.profile && server !== 'raw') {
    const dir = join(profileDir, server);
    // One profile per thread (tsx runs a loader thread): the main thread's is the largest.
    const file = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => ({ f, size: statSync(join(dir, f)).size }))
      .sort((a, b) => b.size - a.size)[0]?.f;
    if (file) profiles[server] = topSelfTime(JSON.parse(readFileSync(join(dir, file), 'utf8')), 15);
  }
}

const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  pinned: hasTaskset,
  postgres: await postgresVersion(),
  maxLoadAvg: Math.max(...results.map((r) => r.loadAvg)),
};
const run = {
  at: new Date().toISOString(),
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  settings: { durationSeconds: DURATION, connections: CONNECTIONS, users: USERS, tokens: sample.length },
  machine,
  results,
  profiles,
};
const stamp = run.at.replace(/[:.]/g, '-');
writeFileSync(join(RESULTS, `${stamp}.json`), `${JSON.stringify(run, null, 2)}\n`);
writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify(run, null, 2)}\n`);
const md = renderReport(run);
writeFileSync(join(RESULTS, 'latest.md'), md);
console.log(md);

async function postgresVersion(): Promise<string> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`SHOW server_version`;
    return String(row!.server_version);
  } finally {
    await sql.end();
  }
}

export type BenchRun = typeof run;
