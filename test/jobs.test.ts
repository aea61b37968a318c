// Scheduled jobs: what each does, the skip rules (views fresh, previous run still
// running, lock held elsewhere), and on real PostgreSQL three instances firing the view
// refresh together (exactly one refresh runs).
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDatabase, type Database, queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { roles, users } from '../db/schema/index.ts';
import { RevocationList } from '../server/auth/revocation.ts';
import { loadConfig } from '../server/config.ts';
import {
  auditRetentionJob,
  JOB_LOCK_NAMESPACE,
  JobRunner,
  refreshTokenCleanupJob,
  viewRefreshJob,
} from '../server/jobs/index.ts';
import { createTestDatabase, DB_KINDS, REAL_DATABASE_URL } from './helpers.ts';

const config = loadConfig({ AUDIT_RETENTION_DAYS: '30' });
const log = pino({ level: 'silent' });
const runnerOn = (database: Database) =>
  new JobRunner({ config, database, log, revocations: new RevocationList() });

async function addUser(database: Database): Promise<string> {
  const [r] = await database.db.select({ id: roles.id }).from(roles).where(eq(roles.name, 'patient'));
  const [u] = await database.db
    .insert(users)
    .values({ email: `${randomUUID()}@example.com`, name: 'Job User', passwordHash: 'x', roleId: r!.id })
    .returning({ id: users.id });
  return u!.id;
}

describe.each(DB_KINDS)('jobs on %s', (kind) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.dispose();
  });

  it('refreshes the views when a base table changed, and skips when nothing did', async () => {
    const jobs = runnerOn(database);
    await addUser(database);
    const first = await jobs.run(viewRefreshJob);
    expect(first.outcome).toBe('ran');
    expect(first.detail?.views).toHaveLength(4);
    expect((await jobs.run(viewRefreshJob)).outcome).toBe('skipped_fresh');
    await addUser(database);
    expect((await jobs.run(viewRefreshJob)).outcome).toBe('ran');
  });

  it('skips a firing while the previous run of the same job still runs', async () => {
    const jobs = runnerOn(database);
    await addUser(database);
    const [a, b] = await Promise.all([jobs.run(viewRefreshJob), jobs.run(viewRefreshJob)]);
    expect(a.outcome).toBe('ran');
    expect(b.outcome).toBe('skipped_running');
  });

  it('deletes expired refresh tokens and audit entries past retention, nothing else', async () => {
    const userId = await addUser(database);
    const hash = () => randomUUID().replaceAll('-', '').repeat(2);
    await database.db.execute(sql`INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at) VALUES
      (${userId}, ${hash()}, gen_random_uuid(), now() - interval '1 minute'),
      (${userId}, ${hash()}, gen_random_uuid(), now() + interval '1 day')`);
    await database.db.execute(sql`INSERT INTO audit_log (at, action) VALUES
      (now() - interval '31 days', 'job.test.old'), (now() - interval '29 days', 'job.test.recent')`);
    const jobs = runnerOn(database);
    const tokens = await jobs.run(refreshTokenCleanupJob);
    expect(tokens).toMatchObject({ outcome: 'ran', detail: { deleted: 1 } });
    const audit = await jobs.run(auditRetentionJob);
    expect(audit).toMatchObject({ outcome: 'ran', detail: { deleted: 1, retentionDays: 30 } });
    const left = await queryRows(
      database.db,
      z.object({ action: z.string() }),
      sql`SELECT action FROM audit_log WHERE action LIKE 'job.test.%'`,
    );
    expect(left.map((r) => r.action)).toEqual(['job.test.recent']);
    const [t] = await queryRows(
      database.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = ${userId}`,
    );
    expect(t!.n).toBe(1);
  });
});

describe.skipIf(!REAL_DATABASE_URL)('jobs across instances (PostgreSQL)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let instances: Database[];
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    instances = await Promise.all([1, 2, 3].map(() => createDatabase({ url: database.url, poolMax: 2 })));
  });
  afterAll(async () => {
    await Promise.all((instances ?? []).map((d) => d.close()));
    await database?.dispose();
  });

  it('runs exactly one repair when three instances fire together, which finds the views current', async () => {
    const runners = instances.map(runnerOn);
    for (let round = 0; round < 5; round++) {
      await addUser(database);
      // The new user is in the view before any repair (triggers, migration 0029).
      const [inView] = await queryRows(
        database.db,
        countRow,
        sql`SELECT (SELECT count(*) FROM mv_users_with_subscription)
                 - (SELECT count(*) FROM users WHERE deleted_at IS NULL) AS n`,
      );
      expect(inView!.n).toBe(0);
      const outcomes = await Promise.all(runners.map((r) => r.run(viewRefreshJob)));
      const ran = outcomes.filter((o) => o.outcome === 'ran');
      console.log(`[fault jobs] round ${round + 1}: ${outcomes.map((o) => o.outcome).join(', ')}`);
      expect(ran).toHaveLength(1);
      expect(outcomes.every((o) => ['ran', 'skipped_locked', 'skipped_fresh'].includes(o.outcome))).toBe(
        true,
      );
      const views = (ran[0]!.detail as { views: { name: string; repaired: number }[] }).views;
      expect(views.map((v) => v.repaired)).toEqual([0, 0, 0, 0]);
    }
  });

  it('runs a tick once when the instances fire it one after another (timers a moment apart)', async () => {
    const runners = instances.map(runnerOn);
    const tick = new Date(Math.floor(Date.now() / 1000) * 1000);
    const outcomes = [];
    for (const r of runners) {
      await addUser(database); // a base table changed each time: without the tick each would run
      outcomes.push((await r.run(viewRefreshJob, tick)).outcome);
    }
    expect(outcomes).toEqual(['ran', 'skipped_done', 'skipped_done']);
    // The next tick runs again.
    expect((await runners[1]!.run(viewRefreshJob, new Date(tick.getTime() + 5000))).outcome).toBe('ran');
  });

  it('skips (skipped_locked) while another session holds the job lock', async () => {
    const other = postgres(database.url!, { max: 1, onnotice: () => {} });
    try {
      await addUser(database);
      await other`SELECT pg_advisory_lock(${JOB_LOCK_NAMESPACE}, ${viewRefreshJob.lockId})`;
      expect((await runnerOn(instances[0]!).run(viewRefreshJob)).outcome).toBe('skipped_locked');
      await other`SELECT pg_advisory_unlock(${JOB_LOCK_NAMESPACE}, ${viewRefreshJob.lockId})`;
      expect((await runnerOn(instances[0]!).run(viewRefreshJob)).outcome).toBe('ran');
    } finally {
      await other.end();
    }
  });
});
