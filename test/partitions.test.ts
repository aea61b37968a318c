// Time-partitioned history (migration 0031, docs/decisions/partitioning.md): mood_entries,
// assessments and audit_log by month; queries on a time range read only its months (EXPLAIN);
// the audit retention drops whole partitions past it and deletes the rest of the straddling
// month; the audit log stays append-only partition by partition; an existing database with
// rows is migrated with every row, key and reference kept.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDatabase, type Db, findPgError, MIGRATIONS_FOLDER, queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { auditRetentionJob, historyPartitionsJob, JobRunner } from '../server/jobs/index.ts';
import { createUser } from './fixtures/domain.ts';
import { createEmptyPostgresDatabase, createTestDeps, DB_KINDS, REAL_DATABASE_URL } from './helpers.ts';

const planRow = z.object({ 'QUERY PLAN': z.string() });

/** The plan of a statement, as text (EXPLAIN without ANALYZE: the planner's pruning). */
async function plan(db: Db, statement: ReturnType<typeof sql>): Promise<string> {
  const rows = await queryRows(db, planRow, sql`EXPLAIN (COSTS OFF) ${statement}`);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

/** YYYYMM of the UTC month `monthsAgo` months before this one. */
function monthTag(monthsAgo: number): string {
  const d = new Date();
  const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsAgo, 1));
  return `${m.getUTCFullYear()}${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
}

const nameRow = z.object({ name: z.string() });

describe.each(DB_KINDS)('partitioned history on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  beforeAll(async () => {
    deps = await createTestDeps(kind, { AUDIT_RETENTION_DAYS: '365' });
    // Two years of months, as a database in service for that long would have.
    await deps.db.execute(sql`SELECT ensure_history_partitions(3, now() - interval '24 months')`);
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  it('keeps monthly partitions ready ahead: the job makes the missing ones, then has nothing to do', async () => {
    await deps.db.execute(sql`DROP TABLE ${sql.identifier(`mood_entries_p${monthTag(-3)}`)}`);
    await deps.db.execute(
      sql`DELETE FROM history_partitions WHERE partition_name = ${`mood_entries_p${monthTag(-3)}`}`,
    );
    const jobs = new JobRunner(deps);
    expect(await jobs.run(historyPartitionsJob)).toMatchObject({ outcome: 'ran', detail: { created: 1 } });
    expect((await jobs.run(historyPartitionsJob)).outcome).toBe('skipped_fresh');
    const parts = await queryRows(
      deps.db,
      nameRow,
      sql`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'mood_entries'::regclass ORDER BY 1`,
    );
    expect(parts.map((p) => p.name)).toEqual(
      expect.arrayContaining([
        `mood_entries_p${monthTag(0)}`,
        `mood_entries_p${monthTag(-3)}`,
        `mood_entries_p${monthTag(24)}`,
        'mood_entries_default',
      ]),
    );
  });

  it('reads only the months of a time range (EXPLAIN shows the others pruned)', async () => {
    const user = await createUser(deps.db);
    await deps.db.execute(
      sql`INSERT INTO mood_entries (user_id, score, created_at)
          SELECT ${user.id}, 5, now() - make_interval(days => d) FROM generate_series(0, 700, 7) AS d`,
    );
    // insights' and mood.list's shape: one user's entries since a moment (a week ago).
    const recent = await plan(
      deps.db,
      sql`SELECT score FROM mood_entries WHERE user_id = ${user.id} AND created_at >= now() - interval '7 days'`,
    );
    // now() is evaluated at executor start-up: EXPLAIN shows the pruning of the ones before it
    // as "Subplans Removed" only under ANALYZE; a constant bound prunes at plan time.
    const since = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const planned = await plan(
      deps.db,
      sql`SELECT score FROM mood_entries WHERE user_id = ${user.id} AND created_at >= ${since}::timestamptz
            AND created_at < ${new Date().toISOString()}::timestamptz`,
    );
    expect(planned).toContain(`mood_entries_p${monthTag(0)}`);
    expect(planned).not.toContain(`mood_entries_p${monthTag(2)}`);
    expect(planned).not.toContain(`mood_entries_p${monthTag(12)}`);
    expect(planned).not.toContain('mood_entries_default');
    const analyzed = await queryRows(
      deps.db,
      planRow,
      sql`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT score FROM mood_entries
          WHERE user_id = ${user.id} AND created_at >= now() - interval '7 days'`,
    );
    const text = analyzed.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Subplans Removed: \d+/);
    expect(text).not.toContain(`mood_entries_p${monthTag(12)}`);
    expect(recent).toContain('mood_entries');
    const [n] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM mood_entries WHERE user_id = ${user.id} AND created_at >= now() - interval '7 days'`,
    );
    expect(n!.n).toBeGreaterThanOrEqual(1);
    // Rows sit in the partition of their month.
    const [old] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM ${sql.identifier(`mood_entries_p${monthTag(12)}`)} WHERE user_id = ${user.id}`,
    );
    expect(old!.n).toBeGreaterThanOrEqual(4);
  });

  it('drops the audit partitions wholly past retention, deletes the rest of the straddling month, keeps the newer', async () => {
    await deps.db.execute(
      sql`INSERT INTO audit_log (action, at) VALUES
            ('partition.test.ancient', now() - interval '700 days'),
            ('partition.test.past', now() - interval '400 days'),
            ('partition.test.straddle', now() - interval '366 days'),
            ('partition.test.recent', now() - interval '10 days')`,
    );
    const cutoff = new Date(Date.now() - 365 * 86_400_000);
    const wholly = await queryRows(
      deps.db,
      nameRow,
      sql`SELECT partition_name AS name FROM history_partitions
          WHERE table_name = 'audit_log' AND to_at <= ${cutoff.toISOString()}::timestamptz ORDER BY from_at`,
    );
    expect(wholly.length).toBeGreaterThanOrEqual(10);
    const result = await new JobRunner(deps).run(auditRetentionJob);
    expect(result.outcome).toBe('ran');
    const left = await queryRows(
      deps.db,
      z.object({ action: z.string() }),
      sql`SELECT action FROM audit_log WHERE action LIKE 'partition.test.%' ORDER BY at`,
    );
    expect(left.map((r) => r.action)).toEqual(['partition.test.recent']);
    const remaining = await queryRows(
      deps.db,
      nameRow,
      sql`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'audit_log'::regclass`,
    );
    const names = new Set(remaining.map((r) => r.name));
    for (const w of wholly) expect(names.has(w.name)).toBe(false);
    expect(names.has(`audit_log_p${monthTag(0)}`)).toBe(true);
    expect(names.has(`audit_log_p${monthTag(12)}`)).toBe(true);
  });

  it('keeps the audit log append-only through its partitions: no UPDATE, DELETE or TRUNCATE of one', async () => {
    await deps.db.execute(sql`INSERT INTO audit_log (action) VALUES ('partition.test.guarded')`);
    const part = sql.identifier(`audit_log_p${monthTag(0)}`);
    for (const statement of [
      sql`DELETE FROM ${part} WHERE action = 'partition.test.guarded'`,
      sql`UPDATE ${part} SET ip = '1.2.3.4' WHERE action = 'partition.test.guarded'`,
      sql`TRUNCATE ${part}`,
      sql`TRUNCATE audit_log_default`,
      sql`TRUNCATE audit_log`,
    ]) {
      const err = await deps.db.execute(statement).then(
        () => undefined,
        (e: unknown) => e,
      );
      const pg = findPgError(err) as { code?: string; message?: string } | undefined;
      expect(pg?.code).toBe('42501');
      expect(pg?.message).toMatch(/audit_log is append-only/);
    }
    const [n] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'partition.test.guarded'`,
    );
    expect(n!.n).toBe(1);
  });

  it('keeps a crisis alert tied to its assessment by the whole key (deleting the assessment deletes the alert)', async () => {
    const user = await createUser(deps.db);
    const [a] = await queryRows(
      deps.db,
      z.object({ id: z.string() }),
      sql`WITH a AS (INSERT INTO assessments (user_id, instrument, answers, score, severity, crisis)
                     VALUES (${user.id}, 'PHQ9', '{0,0,0,0,0,0,0,0,1}', 1, 'minimal', true) RETURNING id, created_at)
          INSERT INTO crisis_alerts (user_id, assessment_id, assessment_created_at)
          SELECT ${user.id}, id, created_at FROM a RETURNING assessment_id AS id`,
    );
    const err = await deps.db
      .execute(
        sql`INSERT INTO crisis_alerts (user_id, assessment_id, assessment_created_at, status, acknowledged_at)
            VALUES (${user.id}, gen_random_uuid(), now(), 'acknowledged', now())`,
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(findPgError(err)?.code).toBe('23503');
    await deps.db.execute(sql`DELETE FROM assessments WHERE id = ${a!.id}`);
    const [n] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM crisis_alerts WHERE user_id = ${user.id}`,
    );
    expect(n!.n).toBe(0);
  });
});

describe.skipIf(!REAL_DATABASE_URL)(
  'migrating an existing database to partitioned history (PostgreSQL)',
  () => {
    const dirs: string[] = [];
    afterAll(() => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it('keeps every row, id, reference and guarantee of a database with history', async () => {
      const empty = await createEmptyPostgresDatabase();
      // The migrations up to the one before 0031: a database as it was before partitioning.
      const before = mkdtempSync(join(tmpdir(), 'manas360-migrations-'));
      dirs.push(before);
      cpSync(MIGRATIONS_FOLDER, before, { recursive: true });
      const journal = JSON.parse(readFileSync(join(before, 'meta/_journal.json'), 'utf8')) as {
        entries: { tag: string }[];
      };
      const upTo = journal.entries.findIndex((e) => e.tag === '0031_history_partitions');
      expect(upTo).toBeGreaterThan(0);
      journal.entries = journal.entries.slice(0, upTo);
      writeFileSync(join(before, 'meta/_journal.json'), JSON.stringify(journal));
      const raw = postgres(empty.url, { max: 1, onnotice: () => {} });
      try {
        await migrate(drizzle({ client: raw }), { migrationsFolder: before });
        expect((await raw`SELECT relkind FROM pg_class WHERE relname = 'mood_entries'`)[0]?.relkind).toBe(
          'r',
        );
        // History over two years: 300 users × 8 mood entries and 2 screenings, audit entries,
        // and crisis alerts pointing at screenings.
        await raw`INSERT INTO users (email, name, password_hash, role_id)
                SELECT 'm' || g || '@example.test', 'M ' || g, 'x', (SELECT id FROM roles WHERE name = 'patient')
                FROM generate_series(1, 300) g`;
        await raw`INSERT INTO mood_entries (user_id, score, created_at)
                SELECT u.id, 1 + k, now() - make_interval(days => k * 90) FROM users u, generate_series(0, 7) k`;
        await raw`INSERT INTO assessments (user_id, instrument, answers, score, severity, crisis, created_at)
                SELECT u.id, 'PHQ9', '{0,0,0,0,0,0,0,0,1}', 1, 'minimal', true, now() - make_interval(days => k * 200)
                FROM users u, generate_series(0, 1) k`;
        await raw`INSERT INTO crisis_alerts (user_id, assessment_id, last_assessment_id, status, acknowledged_at)
                SELECT DISTINCT ON (user_id) user_id, id, id, 'acknowledged', now() FROM assessments ORDER BY user_id, created_at`;
        await raw`INSERT INTO audit_log (action, target_id, at)
                SELECT 'migration.test', id, now() - make_interval(days => (abs(hashtext(email)) % 700))
                FROM users`;
        const snapshot = async () => ({
          mood: await raw`SELECT id, user_id, score, created_at FROM mood_entries ORDER BY id`,
          assessments: await raw`SELECT id, user_id, created_at FROM assessments ORDER BY id`,
          alerts: await raw`SELECT id, assessment_id, last_assessment_id FROM crisis_alerts ORDER BY id`,
          audit: await raw`SELECT id, action, target_id, at FROM audit_log ORDER BY id`,
        });
        const was = await snapshot();
        expect(was.mood).toHaveLength(2400);

        // The real migration (this repository's folder, as npm run db:migrate applies it).
        const database = await createDatabase({ url: empty.url, poolMax: 1 });
        try {
          await database.migrate();
        } finally {
          await database.close();
        }

        expect(await snapshot()).toEqual(was);
        expect(
          (
            await raw`SELECT relkind FROM pg_class WHERE relname IN ('mood_entries', 'assessments', 'audit_log')`
          ).map((r) => r.relkind),
        ).toEqual(['p', 'p', 'p']);
        // Each row in its month's partition, none in the default ones.
        const [defaults] = await raw`SELECT (SELECT count(*) FROM mood_entries_default)
                                          + (SELECT count(*) FROM assessments_default)
                                          + (SELECT count(*) FROM audit_log_default) AS n`;
        expect(Number(defaults!.n)).toBe(0);
        const [spread] = await raw`SELECT count(DISTINCT tableoid)::int AS n FROM mood_entries`;
        expect(spread!.n).toBeGreaterThanOrEqual(8);
        // The alerts point at their assessments by the whole key.
        const [linked] = await raw`SELECT count(*)::int AS n FROM crisis_alerts ca
                                 JOIN assessments a ON a.id = ca.assessment_id AND a.created_at = ca.assessment_created_at
                                 JOIN assessments l ON l.id = ca.last_assessment_id AND l.created_at = ca.last_assessment_created_at`;
        expect(linked!.n).toBe(300);
        // The audit identity continues after the copied ids, and the log is still append-only.
        const [next] = await raw`INSERT INTO audit_log (action) VALUES ('migration.after') RETURNING id`;
        expect(Number(next!.id)).toBeGreaterThan(Math.max(...was.audit.map((r) => Number(r.id))));
        await expect(raw`DELETE FROM audit_log WHERE action = 'migration.test'`).rejects.toThrow(
          /append-only/,
        );
      } finally {
        await raw.end();
        await empty.drop();
      }
    });
  },
);
