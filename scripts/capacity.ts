// `npm run capacity`: the capacity plan (its targets are in the constants below) recomputed from the
// measurements in bench/results (latest.json from `npm run bench`, views-<N>.json from
// `npm run bench:views`, connections.json from `npm run bench:connections`), side by
// side with the plan's own figures. Writes bench/results/capacity.md and prints it.
// Per-task capacity comes from CPU time per request (the server process's user + system
// time over a scenario divided by its requests): one core serves 1e6 / (CPU µs per request)
// requests/s, whatever else shared the machine during the run; a task is planned at 70 %
// of it (headroom for spikes, GC and deploys). The peak is sized from the mixed workload
// (the plan's Scenario 2) when the run has it, for the API and for PostgreSQL.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coresFor, PEAK_RPS, PLAN_API_CORES, type RunLike } from '../bench/report.ts';

const RESULTS = new URL('../bench/results', import.meta.url).pathname;
const HEADROOM = 0.7;

function read<T>(file: string): T | undefined {
  const p = join(RESULTS, file);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as T) : undefined;
}
/** What `npm run bench` writes to latest.json. */
type Bench = RunLike;
interface Views {
  users: number;
  rounds: Array<{ totalMs: number; readMaxMs: number }>;
  baseline: { maxMs: number };
  skip: { medianMs: number };
}
interface Conns {
  connections: number;
  perConnectionKB: number;
}

const bench = read<Bench>('latest.json');
if (!bench) {
  console.error('no bench/results/latest.json: run `npm run bench` first');
  process.exit(1);
}
const by = (id: string) => bench.results.find((r) => r.id === id);
const typical = by('lean-typical-prepared') ?? by('lean-typical');
const gated = by('lean-me');
const before = by('official-before') ?? by('lean-before');
// The same procedure as `typical` (the product's hot reads are prepared), at a fixed rate.
const atRate = by('lean-typical-prepared-at-rate') ?? by('lean-typical-at-rate');
if (!typical || !gated) {
  console.error('latest.json lacks the lean-me / lean-typical scenarios');
  process.exit(1);
}
const views100k = read<Views>('views-100000.json');
const views1m = read<Views>('views-1000000.json');
const conns = read<Conns>('connections.json');

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const mixed = by('lean-mixed');
/** Requests/s one core serves at a scenario's CPU per request (falls back to measured req/s for old results). */
const coreRps = (r: { rps: number; cpuUsPerRequest?: number }) =>
  r.cpuUsPerRequest ? 1e6 / r.cpuUsPerRequest : r.rps;
// One core = one task of 1 vCPU; the mixed workload is what the plan's traffic looks like.
const sizing = mixed?.cpuUsPerRequest ? mixed : typical;
const perTask = coreRps(sizing);
const plannedPerTask = perTask * HEADROOM;
const queriesPerRequest = (mixed ?? typical).queriesPerRequest;
// Average query time: the fixed-rate p50 of a 2-query request is an upper bound for a
// query's time (the two run in parallel; the rest is HTTP, auth and serialisation).
const queryMs = atRate ? atRate.p50 : typical.p50;

const scenarios = [
  {
    name: 'Normal: 100K registered, 20K online, 200 req/user over 8 h',
    rps: (20_000 * 200) / (8 * 3600),
    planTasks: 1,
  },
  { name: 'Peak ("Black Friday"): 100K × 500 req in 2 h', rps: (100_000 * 500) / (2 * 3600), planTasks: 5 },
  { name: 'Growth: 1M registered, 100 req/user/day', rps: (1_000_000 * 100) / 86_400, planTasks: 1 },
];

const peakQps = scenarios[1]!.rps * queriesPerRequest;
const peakBusy = (peakQps * queryMs) / 1000;
const peakTasks = Math.max(1, Math.ceil(scenarios[1]!.rps / plannedPerTask));

const lines: string[] = [
  '# Capacity plan, recomputed from measurements',
  '',
  `From \`${bench.command}\` at ${bench.at} (${bench.machine.cores} cores, ${bench.machine.cpu}, Node ${bench.machine.node})` +
    (bench.machine.maxLoadAvg && bench.machine.maxLoadAvg > 2.5
      ? `. **The bench run was noisy** (load average up to ${f1(bench.machine.maxLoadAvg)} from other work on the machine): figures below are lower bounds.`
      : '.'),
  `A task = one core (1 vCPU), planned at ${HEADROOM * 100} % of what one core sustained.`,
  '',
  '## Executive summary',
  '',
  '| metric | plan (conservative / optimistic) | measured / recomputed |',
  '|---|---|---|',
  `| requests/s per task (1 vCPU), JWT validation only | 2,000 | ${f0(coreRps(gated))} (gated 0-query procedure${gated.cpuUsPerRequest ? `, ${f0(gated.cpuUsPerRequest)} CPU µs/request` : ''}) |`,
  `| requests/s per task, typical 2-query procedure | - | ${f0(coreRps(typical))} (${typical.id}${typical.cpuUsPerRequest ? `, ${f0(typical.cpuUsPerRequest)} CPU µs/request` : ''}) |`,
  ...(mixed?.cpuUsPerRequest
    ? [
        `| requests/s per task, mixed workload (Scenario 2's procedures by weight) | - | ${f0(coreRps(mixed))} (${f0(mixed.cpuUsPerRequest)} CPU µs/request) |`,
        `| API cores for the peak (${f0(PEAK_RPS)} req/s at 70 %) | ${PLAN_API_CORES} tasks | ${coresFor(mixed.cpuUsPerRequest).toFixed(2)} |`,
        ...(mixed.dbCpuUsPerRequest != null
          ? [
              `| PostgreSQL cores for the peak | db.r5.large (2 vCPU) | ${coresFor(mixed.dbCpuUsPerRequest).toFixed(2)} (${f0(mixed.dbCpuUsPerRequest)} µs of backend CPU per request) |`,
            ]
          : []),
        `| queries per mixed request | - | ${mixed.queriesPerRequest.toFixed(2)} |`,
      ]
    : []),
  `| queries per request (auth, RBAC, feature gates) | 0 (after refactor) | ${gated.queriesPerRequest.toFixed(2)} |`,
  `| queries per request (business procedure) | 2 | ${typical.queriesPerRequest.toFixed(2)} |`,
  `| queries per request ("before" design) | 8 | ${before ? before.queriesPerRequest.toFixed(2) : '-'} |`,
  `| p95 of a 2-query procedure | 85 ms / 45 ms (at 12,000 / 20,000 req/s) | ${atRate ? `${atRate.p95.toFixed(1)} ms at ${f0(atRate.rps)} req/s on one core` : `${typical.p95.toFixed(1)} ms at saturation`} |`,
  `| error rate | 0.02 % / 0.005 % | ${(typical.errorRate * 100).toFixed(3)} % at saturation |`,
  `| memory per idle connection | ~400 KB | ${conns ? `${f1(conns.perConnectionKB)} KB (${f0(conns.connections)} connections)` : 'not measured (npm run bench:connections)'} |`,
  `| 5,000 connections per task | ~2 GB | ${conns ? `${f1((conns.perConnectionKB * 5000) / 1024)} MB` : '-'} |`,
  `| view refresh at 100K users | 3.5 s | ${views100k ? `${f1(Math.min(...views100k.rounds.map((r) => r.totalMs)) / 1000)} s (readers' worst ${f0(Math.max(...views100k.rounds.map((r) => r.readMaxMs)))} ms vs ${f0(views100k.baseline.maxMs)} ms idle)` : 'not measured'} |`,
  `| view refresh at 1M users | ~35 s | ${views1m ? `${f1(Math.min(...views1m.rounds.map((r) => r.totalMs)) / 1000)} s` : 'not measured (npm run bench:views -- --users 1000000)'} |`,
  `| refresh when nothing changed | - | ${views100k ? `${views100k.skip.medianMs.toFixed(2)} ms (skipped)` : '-'} |`,
  '',
  '## Load scenarios',
  '',
  `Per task: ${f0(perTask)} req/s from ${sizing.cpuUsPerRequest ? `${f0(sizing.cpuUsPerRequest)} CPU µs per request (${sizing.id})` : `the measured rate (${sizing.id})`}, planned at ${f0(plannedPerTask)} req/s; ${queriesPerRequest.toFixed(2)} queries per request; a query ≤ ${queryMs.toFixed(1)} ms (upper bound, see script).`,
  '',
  '| scenario | req/s | queries/s | tasks (plan) | tasks (measured, with headroom) | busy DB connections (Little) | pool (max 50) |',
  '|---|---:|---:|---:|---:|---:|---|',
  ...scenarios.map((s) => {
    const qps = s.rps * queriesPerRequest;
    const tasks = Math.max(1, Math.ceil(s.rps / plannedPerTask));
    const busy = (qps * queryMs) / 1000;
    return `| ${s.name} | ${f0(s.rps)} | ${f0(qps)} | ${s.planTasks} | ${tasks} | ${f1(busy)} | ${busy <= 50 * tasks ? `fits (${f1(busy / tasks)} per task)` : 'exceeds'} |`;
  }),
  '',
  '## Pool sizing',
  '',
  `The plan: 231 queries/s at 100K users × 10 ms = 2.3 busy connections. Measured: at the peak scenario's ` +
    `${f0(peakQps)} queries/s and ≤ ${queryMs.toFixed(1)} ms per query (an upper bound from request latency), ` +
    `${f1(peakBusy)} connections are busy across ${peakTasks} tasks, ${f1(peakBusy / peakTasks)} per task: ` +
    (peakBusy / peakTasks <= 50
      ? 'within max 50 per task. '
      : 'more than max 50 per task: raise the pool or add tasks. ') +
    'The bounded wait (DATABASE_POOL_WAIT_MS) turns a saturated pool into fast 503s rather than a queue. ' +
    'PostgreSQL itself must sustain the queries/s column (primary + read replicas): this machine shares its two cores between the server, the load generator and PostgreSQL, so it cannot show that limit.',
  '',
];
const md = lines.join('\n');
writeFileSync(join(RESULTS, 'capacity.md'), md);
console.log(md);
