// `npm run bench:admin-users -- --users 1000000`: pages of admin.users.list at scale.
// Seeds a database of its own (manas360_admin_users_<N>) with the project's bulk seed
// (1 % therapists; 60/25/10/5 % free/basic/premium/enterprise), suspends 0.1 % of the
// users, then calls the real procedure (tRPC caller: policy middleware, zod input, the one
// SQL statement, mapping) for each scenario — search by part of the email or name,
// filters, sorts, a deep keyset page — and prints p50/p95/max server time per page and the
// queries per page. Writes bench/results/admin-users-<N>.json.

import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
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
import { ensureDatabase } from './seed.ts';

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
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts/bulk-seed.ts'), '--users', String(USERS)],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  if (r.status !== 0) throw new Error('bulk seed failed');
  // 1 in 1,000 suspended, so the status filter has rows to find.
  await raw`UPDATE users SET status = 'suspended', suspended_reason = 'bench' WHERE email LIKE 'bulk%777@%'`;
  await raw`ANALYZE`;
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
const deps = await createDeps(config, { database: await createDatabase({ url, poolMax: 4 }) });
const now = Math.floor(Date.now() / 1000);
const claims: AccessClaims = {
  sub: randomUUID(),
  email: 'bench-admin@example.test',
  role: 'superadmin',
  privilegeLevel: 100,
  permissions: [...PERMISSIONS],
  features: [],
  plan: 'free',
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
  let queries = 0;
  let rows = 0;
  for (let round = -5; round < ROUNDS; round++) {
    let input = { limit: 20, ...s.input(round) } as ListInput;
    for (let p = 1; p < (s.pages ?? 1); p++) {
      const page = await caller.admin.users.list(input);
      input = { ...input, cursor: page.nextCursor ?? undefined };
    }
    const started = performance.now();
    const { result, queries: q } = await countQueries(() => caller.admin.users.list(input));
    const ms = performance.now() - started;
    if (round < 0) continue; // warm-up
    times.push(ms);
    queries = Math.max(queries, q);
    rows += result.items.length;
  }
  times.sort((a, b) => a - b);
  const row = {
    scenario: s.name,
    p50: Number(pct(times, 50).toFixed(2)),
    p95: Number(pct(times, 95).toFixed(2)),
    max: Number(times[times.length - 1]!.toFixed(2)),
    queriesPerPage: queries,
    avgRows: Number((rows / ROUNDS).toFixed(1)),
  };
  results.push(row);
  log(
    `${row.scenario}: p50 ${row.p50} ms, p95 ${row.p95} ms, max ${row.max} ms, ${row.queriesPerPage} query, ${row.avgRows} rows`,
  );
}
await closeDeps(deps);

const out = {
  date: new Date().toISOString(),
  users: USERS,
  rounds: ROUNDS,
  node: process.version,
  note: 'server time of one admin.users.list page through the tRPC caller (policy, zod, SQL, mapping), same machine as PostgreSQL',
  results,
};
writeFileSync(join(ROOT, `bench/results/admin-users-${USERS}.json`), `${JSON.stringify(out, null, 2)}\n`);
console.log(
  `| scenario (${USERS.toLocaleString('en-US')} users, ${ROUNDS} pages each) | p50 ms | p95 ms | max ms | queries |`,
);
console.log('| --- | --: | --: | --: | --: |');
for (const r of results)
  console.log(`| ${r.scenario} | ${r.p50} | ${r.p95} | ${r.max} | ${r.queriesPerPage} |`);
