// `npm run bench:admin-users -- --users 1000000`: pages of admin.users.list at scale.
// Seeds a database of its own (manas360_admin_users_<N>) with the project's bulk seed
// (1 % therapists; 60/25/10/5 % free/basic/premium/enterprise), suspends 0.1 % of the
// users, then calls the real procedure (tRPC caller: policy middleware, zod input, the one
// SQL statement, mapping) for each scenario — search by part of the email or name,
// filters, sorts, a deep keyset page — and prints per page the server CPU time (this
// process + its PostgreSQL backend, from process.cpuUsage() and /proc/<pid>/schedstat: what
// the page costs, unaffected by other load on the machine), the wall time, and the queries.
// Writes bench/results/admin-users-<N>.json.

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { countQueries, createDatabase } from '../db/client.ts';
import type { AccessClaims } from '../server/auth/tokens.ts';
import { loadConfig } from '../server/config.ts';
import { closeDeps, createDeps } from '../server/create-services.ts';
import { appRouter } from '../server/routers/index.ts';
import { createContextInner } from '../server/trpc/context.ts';
import { createCallerFactory } from '../server/trpc/init.ts';
import { PERMISSIONS } from '../shared/catalog.ts';
import type { RouterInputs } from '../shared/index.ts';
import { bulkSeed, ensureDatabase } from './seed.ts';

const { values: args } = parseArgs({
  options: { users: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '100' } },
});
const USERS = Number(args.users);
const ROUNDS = Number(args.rounds);
const ROOT = new URL('..', import.meta.url).pathname;
const BASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (m: string) => console.error(`[admin-users] ${m}`);

const name = `manas360_admin_users_${USERS}`;
const url = await ensureDatabase(BASE_URL, name);
const raw = postgres(url, { max: 1, onnotice: () => {} });
const [{ n: have }] = (await raw`SELECT count(*)::int AS n FROM users`) as unknown as [{ n: number }];
if (have < USERS) {
  log(`seeding ${USERS - have} users into ${name} with scripts/bulk-seed.ts ...`);
  bulkSeed(url, USERS);
  // 1 in 1,000 suspended, so the status filter has rows to find.
  await raw`UPDATE users SET status = 'suspended', suspended_reason = 'bench' WHERE email LIKE 'bulk%777@%'`;
  await raw`VACUUM (ANALYZE)`; // as autovacuum would: visibility map for index-only probes
}
await raw.end();

const config = loadConfig({
  NODE_ENV: 'development',
  DATABASE_URL: url,
  LOG_LEVEL: 'warn',
  JOBS_ENABLED: 'false',
  RATE_LIMIT_ENABLED: 'false',
  JWT_SECRET: 'b'.repeat(32),
  NOTES_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
});
// One connection: its backend's CPU time is the database's share of each page.
const deps = await createDeps(config, { database: await createDatabase({ url, poolMax: 1 }) });
const [{ pid }] = (await deps.db.execute(sql`SELECT pg_backend_pid() AS pid`)) as unknown as [
  { pid: number },
];
/** CPU time in ms: this process (user + system) and the PostgreSQL backend serving it. */
const cpuMs = () => {
  const node = process.cpuUsage();
  const backendNs = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  return (node.user + node.system) / 1000 + backendNs / 1e6;
};
const now = Math.floor(Date.now() / 1000);
const claims: AccessClaims = {
  sub: randomUUID(),
  email: 'bench-admin@example.test',
  role: 'superadmin',
  privilegeLevel: 100,
  permissions: [...PERMISSIONS],
  features: [],
  plan: 'free',
  privacyNotice: config.PRIVACY_NOTICE_VERSION,
  sid: randomUUID(),
  jti: randomUUID(),
  iat: now,
  exp: now + 3600,
  iss: config.JWT_ISSUER,
  aud: config.JWT_AUDIENCE,
};
const caller = createCallerFactory(appRouter)(createContextInner({ deps, auth: claims }));
type ListInput = RouterInputs['admin']['users']['list'];

/** A user number of the seed, different each round (so pages are not all the same cached rows). */
const someUser = (round: number) => 1 + ((round * 7919 + 12345) % USERS);
const SCENARIOS: Array<{ name: string; input: (round: number) => ListInput; pages?: number }> = [
  { name: 'newest first, no filter', input: () => ({}) },
  { name: 'newest first, 5th page (keyset)', input: () => ({}), pages: 5 },
  {
    name: 'search part of an email (6 digits), newest first',
    input: (r) => ({ search: `k${someUser(r)}`.slice(-6) }),
  },
  {
    name: 'search part of an email, sort by email',
    input: (r) => ({ search: `${someUser(r)}@bulk`, sort: 'email', order: 'asc' }),
  },
  {
    name: 'search part of a name ("user 12"), sort by name',
    input: (r) => ({ search: `user ${10 + (r % 90)}`, sort: 'name', order: 'asc' }),
  },
  {
    // More matches than the page sorts itself (SEARCH_SORT_LIMIT): the gated walk.
    name: 'search matching every user ("bulk"), newest first',
    input: () => ({ search: 'bulk' }),
  },
  {
    name: 'search 2 characters, sort by email desc',
    input: (r) => ({ search: String(10 + (r % 90)), sort: 'email', order: 'desc' }),
  },
  {
    name: 'role therapist + plan premium, sort by email',
    input: () => ({ role: 'therapist', plan: 'premium', sort: 'email', order: 'asc' }),
  },
  {
    name: 'plan enterprise, sort by name desc',
    input: () => ({ plan: 'enterprise', sort: 'name', order: 'desc' }),
  },
  { name: 'status suspended, newest first', input: () => ({ status: 'suspended' }) },
  { name: 'role admin (no rows), newest first', input: () => ({ role: 'admin' }) },
  {
    name: 'search + role + plan + status, oldest first',
    input: (r) => ({
      search: String(100 + (r % 900)),
      role: 'patient',
      plan: 'basic',
      status: 'active',
      order: 'asc',
    }),
  },
];

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const results = [];
for (const s of SCENARIOS) {
  const times: number[] = [];
  const cpu: number[] = [];
  let queries = 0;
  let rows = 0;
  for (let round = -5; round < ROUNDS; round++) {
    let input = { limit: 20, ...s.input(round) } as ListInput;
    for (let p = 1; p < (s.pages ?? 1); p++) {
      const page = await caller.admin.users.list(input);
      input = { ...input, cursor: page.nextCursor ?? undefined };
    }
    const cpu0 = cpuMs();
    const started = performance.now();
    const { result, queries: q } = await countQueries(() => caller.admin.users.list(input));
    const ms = performance.now() - started;
    const cpuUsed = cpuMs() - cpu0;
    if (round < 0) continue; // warm-up
    times.push(ms);
    cpu.push(cpuUsed);
    queries = Math.max(queries, q);
    rows += result.items.length;
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const row = {
    scenario: s.name,
    cpuP50: Number(pct(cpu, 50).toFixed(2)),
    cpuP95: Number(pct(cpu, 95).toFixed(2)),
    wallP50: Number(pct(times, 50).toFixed(2)),
    wallP95: Number(pct(times, 95).toFixed(2)),
    queriesPerPage: queries,
    avgRows: Number((rows / ROUNDS).toFixed(1)),
  };
  results.push(row);
  log(
    `${row.scenario}: CPU p50 ${row.cpuP50} ms p95 ${row.cpuP95} ms; wall p50 ${row.wallP50} ms p95 ${row.wallP95} ms; ${row.queriesPerPage} query, ${row.avgRows} rows`,
  );
}
await closeDeps(deps);

const out = {
  date: new Date().toISOString(),
  users: USERS,
  rounds: ROUNDS,
  node: process.version,
  loadAverage: loadavg()[0],
  note: 'one admin.users.list page through the tRPC caller (policy, zod, SQL, mapping); CPU = this process + its PostgreSQL backend; wall = elapsed on a shared machine',
  results,
};
writeFileSync(join(ROOT, `bench/results/admin-users-${USERS}.json`), `${JSON.stringify(out, null, 2)}\n`);
console.log(
  `| scenario (${USERS.toLocaleString('en-US')} users, ${ROUNDS} pages each) | CPU p50 ms | CPU p95 ms | wall p50 ms | wall p95 ms | queries |`,
);
console.log('| --- | --: | --: | --: | --: | --: |');
for (const r of results)
  console.log(
    `| ${r.scenario} | ${r.cpuP50} | ${r.cpuP95} | ${r.wallP50} | ${r.wallP95} | ${r.queriesPerPage} |`,
  );
console.log(`load average during the run: ${loadavg()[0]!.toFixed(1)}`);
