// Bench data: a migrated database of its own on the machine's PostgreSQL, with at least N
// users (roles, plans, subscriptions, mood entries), seeded with generate_series.
// Bench users cannot log in (their password hash is a placeholder): the bench signs
// their access tokens directly with the server's key ring. Their ids are RFC 9562
// version-4 UUIDs derived from the user number (the token's `sub` must be one).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import postgres from 'postgres';
import { createDatabase } from '../db/client.ts';
import type { TokenSubject } from '../server/auth/tokens.ts';
import { DEFAULT_PRIVACY_NOTICE_VERSION } from '../server/config.ts';

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates (if needed) and migrates the database `name` on the server of `baseUrl`. */
export async function ensureDatabase(baseUrl: string, name: string): Promise<string> {
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`SELECT 1 AS ok FROM pg_database WHERE datname = ${name}`;
    if (!row) await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(baseUrl, name);
  const database = await createDatabase({ url, poolMax: 2 });
  try {
    await database.migrate();
  } finally {
    await database.close();
  }
  return url;
}

/** A deterministic version-4 UUID for bench user number `i` (md5 with version and variant set). */
const benchId = (i: string) =>
  `overlay(overlay(md5('bench-user-' || ${i}) placing '4' from 13) placing '8' from 17)::uuid`;

/**
 * One connection without a statement timeout: the seed's 100,000-row statements (and
 * VACUUM, the view refresh) take longer than the database's 30 s default on a small machine
 * (issue 24: `npm run bench` on a fresh machine died with "canceling statement due to
 * statement timeout"). A session setting, so the database default still holds for the server.
 */
function seedConnection(url: string) {
  // The largest value PostgreSQL takes (about 24 days): postgres.js leaves out a setting of 0.
  return postgres(url, { max: 1, onnotice: () => {}, connection: { statement_timeout: 2_147_483_647 } });
}

export async function userCount(url: string): Promise<number> {
  const sql = seedConnection(url);
  try {
    const [row] = await sql`SELECT count(*)::int AS n FROM users WHERE email LIKE 'bench%@bench.example'`;
    return row!.n as number;
  } finally {
    await sql.end();
  }
}

/**
 * Seeds bench users bench1..benchN that are missing: 1 % therapists, the rest patients; plans
 * spread over free/basic/premium/enterprise with an active subscription for the paid
 * ones; `moodPerUser` mood entries per patient. Then refreshes the views.
 */
export async function seedUsers(url: string, n: number, moodPerUser = 5): Promise<void> {
  const sql = seedConnection(url);
  try {
    const [row] = await sql`SELECT count(*)::int AS n FROM users WHERE email LIKE 'bench%@bench.example'`;
    const from = (row!.n as number) + 1;
    if (from > n) return;
    // In slices, so one statement never holds a huge transaction.
    const slice = 100_000;
    for (let lo = from; lo <= n; lo += slice) {
      const hi = Math.min(n, lo + slice - 1);
      await sql.begin(async (tx) => {
        await tx`
          INSERT INTO users (id, email, name, password_hash, role_id, created_at)
          SELECT ${sql.unsafe(benchId('i'))}, 'bench' || i || '@bench.example', 'Bench User ' || i,
                 'bench-no-login', CASE WHEN i % 100 = 0 THEN t.id ELSE p.id END,
                 now() - make_interval(secs => i)
          FROM generate_series(${lo}::int, ${hi}::int) AS i,
               (SELECT id FROM roles WHERE name = 'patient') p,
               (SELECT id FROM roles WHERE name = 'therapist') t
          ON CONFLICT DO NOTHING`;
        await tx`
          INSERT INTO subscriptions (user_id, plan_id, status, current_period_end)
          SELECT ${sql.unsafe(benchId('i'))}, pl.id, 'active', now() + interval '30 days'
          FROM generate_series(${lo}::int, ${hi}::int) AS i
          JOIN plans pl ON pl.tier = i % 4
          WHERE i % 4 <> 0
          ON CONFLICT DO NOTHING`;
        if (moodPerUser > 0)
          await tx`
            INSERT INTO mood_entries (user_id, score, tags, created_at)
            SELECT ${sql.unsafe(benchId('i'))}, 1 + (i + k) % 10, '{}', now() - make_interval(days => k)
            FROM generate_series(${lo}::int, ${hi}::int) AS i, generate_series(1, ${moodPerUser}::int) AS k
            WHERE i % 100 <> 0`;
      });
    }
    await sql`ANALYZE`;
    await sql`SELECT * FROM refresh_materialized_views()`;
  } finally {
    await sql.end();
  }
}

/**
 * VACUUM (ANALYZE) of the bench database before a run, as autovacuum keeps a production one:
 * the visibility map makes counts index-only scans, and the dead rows earlier runs' writes
 * left (bookings, refresh rotations) are gone. Some machines run PostgreSQL with autovacuum
 * off (this one does); without this, each run would measure a database decayed by the runs
 * before it. Returns whether autovacuum is on.
 */
export async function vacuum(url: string): Promise<boolean> {
  const sql = seedConnection(url);
  try {
    await sql`VACUUM (ANALYZE)`;
    const [row] = await sql`SELECT current_setting('autovacuum') = 'on' AS on`;
    return row!.on as boolean;
  } finally {
    await sql.end();
  }
}

/** At least n bench users in the database. */
export async function ensureUsers(url: string, n: number, log: (m: string) => void): Promise<void> {
  const have = await userCount(url);
  if (have >= n) return;
  log(`seeding ${n - have} bench users ...`);
  const started = performance.now();
  await seedUsers(url, n);
  log(`seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** What a bench user's token carries. */
export type BenchUser = TokenSubject;

/**
 * Claims of up to `limit` users of `role` (random sample; patients may read their mood log), as if they
 * had accepted the current privacy notice (bulk-seeded users record no consent).
 */
export async function sampleUsers(url: string, limit: number, role = 'patient'): Promise<BenchUser[]> {
  const sql = seedConnection(url);
  try {
    const rows = await sql<BenchUser[]>`
      SELECT u.id, u.email, r.name AS role, r.privilege_level::int AS "privilegeLevel",
             array(SELECT p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id
                   WHERE rp.role_id = r.id ORDER BY 1) AS permissions,
             array(SELECT f.code FROM plan_features pf JOIN features f ON f.id = pf.feature_id
                   WHERE pf.plan_id = pl.id ORDER BY 1) AS features,
             pl.code AS plan, ${DEFAULT_PRIVACY_NOTICE_VERSION}::text AS "privacyNotice"
      FROM users u
      JOIN roles r ON r.id = u.role_id
      LEFT JOIN subscriptions s ON s.user_id = u.id AND s.status = 'active'
      JOIN plans pl ON pl.id = coalesce(s.plan_id, (SELECT id FROM plans WHERE code = 'free'))
      WHERE r.name = ${role} AND u.status = 'active' AND u.deleted_at IS NULL
        AND u.email LIKE 'bench%@bench.example'
      ORDER BY random() LIMIT ${limit}`;
    return [...rows];
  } finally {
    await sql.end();
  }
}

/** Fills the database at `url` up to `users` users with scripts/bulk-seed.ts (a child process). */
export function bulkSeed(url: string, users: number): void {
  const root = new URL('..', import.meta.url).pathname;
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(root, 'scripts/bulk-seed.ts'), '--users', String(users)],
    { cwd: root, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (r.status !== 0) throw new Error('bulk seed failed');
}
