// npm run db:bulk-seed -- --users 100000 [--start 1] [--mood 0] [--refresh]
// Creates N users fast with generate_series (one INSERT per 100,000 rows), with roles
// (1 % therapists with profiles, the rest patients), plans (60 % free, 25 % basic,
// 10 % premium, 5 % enterprise) and subscriptions. Idempotent per number: user g has
// email bulk<g>@bulk.manas360.test and a deterministic v4-shaped id from md5('bulk-user-<g>'), so a
// rerun skips existing users and --start extends a database. Every bulk user's password
// is BULK_PASSWORD below (development and benchmarks only). Needs DATABASE_URL (or seeds
// the embedded database, slowly). --mood N adds N mood entries per patient; the views are
// synced per batch (their triggers off for the load); --refresh runs their repair
// (refresh_materialized_views(), which should find nothing to put right) and prints it.
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { createDatabase, queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { refreshViews } from '../db/views.ts';
import { createPasswordHasher } from '../server/auth/passwords.ts';
import { loadConfig, loadDotEnv } from '../server/config.ts';
import { bulkUserIdSql } from './bulk-users.ts';

export const BULK_PASSWORD = 'bulk-user-password';
export const bulkEmail = (n: number) => `bulk${n}@bulk.manas360.test`;

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    start: { type: 'string', default: '1' },
    mood: { type: 'string', default: '0' },
    refresh: { type: 'boolean', default: false },
    batch: { type: 'string', default: '100000' },
  },
});
const total = Number(values.users);
const start = Number(values.start);
const moodPerUser = Number(values.mood);
const batch = Number(values.batch);
if (![total, start, moodPerUser, batch].every((n) => Number.isInteger(n) && n >= 0) || batch < 1) {
  console.error('usage: bulk-seed --users N [--start S] [--mood M] [--batch B] [--refresh]');
  process.exit(2);
}

loadDotEnv();
const config = loadConfig();
const database = await createDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolMax: 2 });
if (database.kind === 'pglite') await database.migrate();
const db = database.db;
// One real hash shared by every bulk user: hashing a million passwords would take days.
const passwordHash = await createPasswordHasher().hash(BULK_PASSWORD);
const began = performance.now();

for (let from = start; from < start + total; from += batch) {
  const to = Math.min(start + total - 1, from + batch - 1);
  const t0 = performance.now();
  await db.transaction(async (tx) => {
    // Slices of up to 100,000 rows take longer than the database's 30 s statement timeout
    // on a small machine (issue 24: a fresh `npm run bench` died here): none for the seed.
    await tx.execute(sql`SET LOCAL statement_timeout = 0`);
    // The views' per-row triggers off for this transaction; the batch's rows are synced in one
    // set-based call at its end instead (migration 0029).
    await tx.execute(sql`SELECT set_config('manas360.view_sync', 'off', true)`);
    await tx.execute(sql`
      INSERT INTO users (id, email, name, password_hash, role_id, created_at)
      SELECT ${sql.raw(bulkUserIdSql('g'))}, 'bulk' || g || '@bulk.manas360.test', 'Bulk User ' || g, ${passwordHash},
             CASE WHEN g % 100 = 0 THEN (SELECT id FROM roles WHERE name = 'therapist')
                  ELSE (SELECT id FROM roles WHERE name = 'patient') END,
             now() - make_interval(secs => g)
      FROM generate_series(${from}::int, ${to}::int) AS g
      ON CONFLICT DO NOTHING`);
    await tx.execute(sql`
      INSERT INTO subscriptions (user_id, plan_id, status, current_period_end)
      SELECT ${sql.raw(bulkUserIdSql('g'))},
             (SELECT id FROM plans WHERE code = CASE WHEN g % 20 = 0 THEN 'enterprise' WHEN g % 10 IN (1, 2) THEN 'premium'
                                                     WHEN g % 20 IN (3, 4, 5, 6, 7) THEN 'basic' ELSE 'free' END),
             'active', now() + interval '30 days'
      FROM generate_series(${from}::int, ${to}::int) AS g
      ON CONFLICT (user_id) DO NOTHING`);
    await tx.execute(sql`
      INSERT INTO therapist_profiles (user_id, bio, specializations, languages, fee_paise)
      SELECT ${sql.raw(bulkUserIdSql('g'))}, 'Licensed therapist',
             CASE (g / 100) % 3 WHEN 0 THEN ARRAY['anxiety', 'depression'] WHEN 1 THEN ARRAY['trauma', 'grief']
                                ELSE ARRAY['relationships', 'stress'] END,
             CASE (g / 100) % 3 WHEN 0 THEN ARRAY['en', 'hi'] WHEN 1 THEN ARRAY['en', 'ta'] ELSE ARRAY['en', 'kn'] END,
             50000 + ((g / 100) % 10) * 10000
      FROM generate_series(${from}::int, ${to}::int) AS g WHERE g % 100 = 0
      ON CONFLICT DO NOTHING`);
    if (moodPerUser > 0)
      await tx.execute(sql`
        INSERT INTO mood_entries (user_id, score, tags, created_at)
        SELECT ${sql.raw(bulkUserIdSql('g'))}, 1 + (g + k) % 10, ARRAY['bulk'], now() - make_interval(hours => k)
        FROM generate_series(${from}::int, ${to}::int) AS g CROSS JOIN generate_series(1, ${moodPerUser}::int) AS k
        WHERE g % 100 <> 0`);
    await tx.execute(sql`
      SELECT sync_user_views(ARRAY(SELECT ${sql.raw(bulkUserIdSql('g'))} FROM generate_series(${from}::int, ${to}::int) AS g))`);
  });
  console.log(`users ${from}..${to} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
if (database.kind === 'postgres') await db.execute(sql`ANALYZE`);
const [count] = await queryRows(db, countRow, sql`SELECT count(*)::int AS n FROM users`);
console.log(
  `seeded ${total} bulk users in ${((performance.now() - began) / 1000).toFixed(1)} s; users now ${count?.n}`,
);
console.log(`bulk users: ${bulkEmail(start)} … ${bulkEmail(start + total - 1)}, password "${BULK_PASSWORD}"`);
if (values.refresh) {
  for (const v of await refreshViews(db))
    console.log(`repair ${v.name}: ${v.ms.toFixed(0)} ms, ${v.rows} rows, ${v.repaired} repaired`);
}
await database.close();
