// `npm run bench:explain`: the plans of the hot reads, as the product sends them. Calls each
// read procedure of the mixed workload once through the router (as a bench patient, a
// therapist or the bench admin), captures the statements Drizzle sends, and runs
// EXPLAIN (ANALYZE, BUFFERS) on each against the bench database (bulk-seeded users):
// execution time, buffers, and the scan nodes (an index missing shows as a Seq Scan on a
// big table). Then, when the pg_stat_statements extension is available, the top statements
// by total time. Writes bench/results/explain.md and prints it.
//
// Flags: --users N (100000). Env: DATABASE_URL (the server; the bench database is manas360_bench).
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { onQuery, type Statement } from '../db/client.ts';
import { loadConfig } from '../server/config.ts';
import { closeDeps, createDeps } from '../server/create-services.ts';
import { appRouter } from '../server/routers/index.ts';
import { createContextInner } from '../server/trpc/context.ts';
import { createCallerFactory } from '../server/trpc/init.ts';
import { prepareMixData } from './mix.ts';
import { ensureDatabase, ensureUsers, sampleUsers } from './seed.ts';

const { values: args } = parseArgs({ options: { users: { type: 'string', default: '100000' } } });
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (m: string) => console.error(`[explain] ${m}`);
const dbUrl = await ensureDatabase(BASE_URL, 'manas360_bench');
await ensureUsers(dbUrl, Number(args.users), log);
const [patient] = await sampleUsers(dbUrl, 1);
await prepareMixData(dbUrl, [], 0);
const [admin] = await sampleUsers(dbUrl, 1, 'admin');
const [therapist] = await sampleUsers(dbUrl, 1, 'therapist');
if (!patient || !admin || !therapist)
  throw new Error('the bench database lacks a patient, therapist or admin');

Object.assign(process.env, {
  NODE_ENV: 'development',
  DATABASE_URL: dbUrl,
  REDIS_URL: '',
  JOBS_ENABLED: 'false',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_ENABLED: 'false',
  DATA_DIR: join(tmpdir(), 'manas360-explain'),
});
const deps = await createDeps(loadConfig());
const createCaller = createCallerFactory(appRouter);
const callerAs = async (user: typeof patient) => {
  const { token } = await deps.tokens.sign(user, crypto.randomUUID());
  return createCaller(createContextInner({ deps, auth: await deps.tokens.verify(token) }));
};
const asPatient = await callerAs(patient);
const asAdmin = await callerAs(admin);
const asTherapist = await callerAs(therapist);

const reads: Array<[string, () => Promise<unknown>]> = [
  ['mood.list', () => asPatient.mood.list({ limit: 20 })],
  ['assessments.history', () => asPatient.assessments.history({ limit: 10 })],
  ['therapists.list', () => asPatient.therapists.list({ limit: 20 })],
  ['therapy.mine', () => asPatient.therapy.mine({ limit: 20 })],
  ['users.profile', () => asPatient.users.profile()],
  ['subscriptions.plans', () => asPatient.subscriptions.plans()],
  ['therapy.schedule (therapist)', () => asTherapist.therapy.schedule({})],
  ['admin.users.list', () => asAdmin.admin.users.list({ limit: 20 })],
  ['admin.users.list (search)', () => asAdmin.admin.users.list({ limit: 20, search: 'user 12' })],
  ['crisis.list', () => asAdmin.crisis.list({ limit: 20 })],
  ['analytics.overview', () => asAdmin.analytics.overview()],
];

const pg = postgres(dbUrl, { max: 1, onnotice: () => {} });
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}
const scans = (n: PlanNode): string[] => [
  ...(n['Relation Name'] || n['Index Name']
    ? [`${n['Node Type']} ${n['Index Name'] ?? n['Relation Name']} (${n['Actual Rows']} rows)`]
    : []),
  ...(n.Plans ?? []).flatMap(scans),
];

const lines = [
  '# Hot reads: EXPLAIN (ANALYZE, BUFFERS)',
  '',
  `\`npm run bench:explain -- --users ${args.users}\` at ${new Date().toISOString()}: each procedure called once through the router, each statement it sent explained on the bench database.`,
  '',
  '| procedure | statement | execution ms | planning ms | shared buffers hit / read | scans |',
  '|---|---|---:|---:|---:|---|',
];
try {
  for (const [name, call] of reads) {
    const seen: Statement[] = [];
    const stop = onQuery((_scope, s) => seen.push(s));
    try {
      await call();
    } finally {
      stop();
    }
    for (const [i, s] of seen.entries()) {
      // Drizzle's statements use $1..$n placeholders: explain them with the same values.
      const [row] = await pg.unsafe(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${s.sql}`, s.params as never[]);
      const plan = (row!['QUERY PLAN'] as Array<Record<string, unknown>>)[0]!;
      const top = plan.Plan as PlanNode & { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number };
      lines.push(
        `| ${i === 0 ? name : ''} | ${i + 1} | ${Number(plan['Execution Time']).toFixed(2)} | ${Number(plan['Planning Time']).toFixed(2)} | ${top['Shared Hit Blocks'] ?? 0} / ${top['Shared Read Blocks'] ?? 0} | ${scans(top).join('; ') || top['Node Type']} |`,
      );
    }
  }
  const [ext] = await pg`SELECT 1 AS ok FROM pg_extension WHERE extname = 'pg_stat_statements'`;
  lines.push('', '## pg_stat_statements: top statements by total time', '');
  if (ext) {
    const top = await pg`
      SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 3) AS mean_ms,
             left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS query
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT 15`;
    lines.push('| calls | total ms | mean ms | statement |', '|---:|---:|---:|---|');
    for (const t of top)
      lines.push(
        `| ${t.calls} | ${t.total_ms} | ${t.mean_ms} | \`${String(t.query).replaceAll('|', '\\|')}\` |`,
      );
  } else
    lines.push(
      'Not available: the extension needs `shared_preload_libraries = pg_stat_statements` and `CREATE EXTENSION pg_stat_statements` in the bench database (run `npm run bench` first, then this, to see the mix).',
    );
} finally {
  await pg.end();
  await closeDeps(deps);
}
const md = `${lines.join('\n')}\n`;
const results = new URL('./results', import.meta.url).pathname;
mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'explain.md'), md);
console.log(md);
