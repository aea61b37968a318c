import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { findPgError, queryRows } from '../db/client.ts';
import { countRow, num } from '../db/row.ts';
import {
  MATERIALIZED_VIEWS,
  plans,
  refreshedViews,
  roles,
  subscriptions,
  therapySessions,
  users,
} from '../db/schema/index.ts';
import { assertViewsReady, refreshViews, refreshViewsInParallel, viewsStale } from '../db/views.ts';
import { FEATURES, PERMISSIONS, ROLES } from '../shared/catalog.ts';
import { createTestDatabase, DB_KINDS } from './helpers.ts';

/** The SQLSTATE and constraint a statement fails with (both drivers, through Drizzle's wrapping). */
async function failure(statement: PromiseLike<unknown>) {
  const err = await Promise.resolve(statement).then(
    () => undefined,
    (e: unknown) => e,
  );
  const pg = findPgError(err);
  if (!pg) throw new Error(`expected a database error, got ${String(err)}`);
  return { code: pg.code, constraint: pg.constraint ?? pg.constraint_name };
}
const check = (constraint: string) => ({ code: '23514', constraint });

describe.each(DB_KINDS)('foundation on %s', (kind) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.dispose();
  });

  async function insertUser(email: string, role = 'patient') {
    const db = database.db;
    const [r] = await db.select({ id: roles.id }).from(roles).where(eq(roles.name, role));
    const [u] = await db
      .insert(users)
      .values({ email, name: 'Test User', passwordHash: 'x', roleId: r!.id })
      .returning({ id: users.id });
    return u!.id;
  }

  it('applies migrations from zero and seeds the catalog exactly as docs/api.md says', async () => {
    const db = database.db;
    const roleRows = await db.select().from(roles);
    expect(Object.fromEntries(roleRows.map((r) => [r.name, r.privilegeLevel]))).toEqual(ROLES);
    const perms = await queryRows(
      db,
      z.object({ role: z.string(), perms: z.array(z.string()) }),
      sql`SELECT r.name AS role, array_agg(p.name ORDER BY p.name) AS perms FROM roles r
          JOIN role_permissions rp ON rp.role_id = r.id JOIN permissions p ON p.id = rp.permission_id GROUP BY r.name`,
    );
    const byRole = Object.fromEntries(perms.map((p) => [p.role, p.perms]));
    expect(byRole.superadmin).toEqual([...PERMISSIONS].sort());
    expect(byRole.patient).toEqual(
      [
        'profile.read',
        'profile.update',
        'mood.write',
        'mood.read',
        'assessments.submit',
        'assessments.read',
        'sessions.book',
        'sessions.read',
        'data.export',
        'insights.read',
        'support.use',
        'api_keys.manage',
        'reports.read',
      ].sort(),
    );
    expect(byRole.therapist).toHaveLength(11);
    expect(byRole.admin).toHaveLength(15);
    expect(byRole.admin).toContain('support.manage');
    expect(byRole.admin).toContain('jobs.manage');
    expect(byRole.patient).not.toContain('support.manage');
    expect(byRole.admin).not.toContain('roles.manage');
    const planFeats = await queryRows(
      db,
      z.object({ code: z.string(), price_paise: num, feats: z.array(z.string()) }),
      sql`SELECT p.code, p.price_paise, array_agg(f.code ORDER BY f.code) AS feats FROM plans p
          JOIN plan_features pf ON pf.plan_id = p.id JOIN features f ON f.id = pf.feature_id GROUP BY p.code, p.price_paise`,
    );
    const byPlan = Object.fromEntries(planFeats.map((p) => [p.code, p]));
    expect(byPlan.free?.feats).toEqual(['assessments', 'mood_tracking']);
    expect(byPlan.basic?.feats).toEqual(['assessments', 'data_export', 'mood_tracking', 'therapist_booking']);
    expect(byPlan.premium?.feats).toHaveLength(6);
    expect(byPlan.enterprise?.feats).toEqual([...FEATURES].sort());
    expect(Number(byPlan.basic?.price_paise)).toBe(49900);
    await assertViewsReady(db);
  });

  it('refuses to start when the triggers that keep the views current are off (SECURITY-TESTS 50), or a view is missing', async () => {
    const own = await createTestDatabase(kind);
    try {
      await assertViewsReady(own.db);
      await own.db.execute(sql`ALTER TABLE subscriptions DISABLE TRIGGER subscriptions_sync_views`);
      await expect(assertViewsReady(own.db)).rejects.toThrow(
        'the triggers that keep the views current are missing or disabled: run npm run db:migrate',
      );
      await own.db.execute(sql`ALTER TABLE subscriptions ENABLE TRIGGER subscriptions_sync_views`);
      await assertViewsReady(own.db);
      await own.db.execute(sql`DROP TABLE mv_users_with_subscription CASCADE`);
      await expect(assertViewsReady(own.db)).rejects.toThrow(
        'view table mv_users_with_subscription is missing: run npm run db:migrate',
      );
    } finally {
      await own.dispose();
    }
  });

  it('refreshes the views at once on separate connections, and only those', async () => {
    await insertUser('parallel-refresh@example.com');
    const views = await refreshViewsInParallel(database);
    expect(views.map((v) => v.name)).toEqual([...MATERIALIZED_VIEWS]);
    const [{ n }] = (await queryRows(database.db, countRow, sql`SELECT count(*)::int AS n FROM users`)) as [
      { n: number },
    ];
    for (const v of views) {
      if (v.name !== 'mv_user_counts') expect(v.rows).toBe(n);
      expect(v.repaired).toBe(0);
    }
    expect(await viewsStale(database.db)).toBe(false);
    await expect(
      database.db.execute(sql`SELECT * FROM refresh_materialized_view('users')`),
    ).rejects.toMatchObject({ cause: { code: 'P0001', message: 'unknown materialized view: users' } });
  });

  it('refreshes the views listed in refreshed_views, in their order: the same list as MATERIALIZED_VIEWS', async () => {
    const listed = await database.db
      .select({ name: refreshedViews.viewName })
      .from(refreshedViews)
      .orderBy(refreshedViews.position);
    expect(listed.map((v) => v.name)).toEqual([...MATERIALIZED_VIEWS]);
    expect((await refreshViews(database.db)).map((v) => v.name)).toEqual([...MATERIALIZED_VIEWS]);
  });

  it('rejects a duplicate email that differs only in case', async () => {
    await insertUser('Case.Test@Example.com');
    expect(await failure(insertUser('case.test@example.COM'))).toEqual({
      code: '23505',
      constraint: 'users_email_lower_uq',
    });
  });

  it('rejects out-of-range scores and answers', async () => {
    const userId = await insertUser('ranges@example.com');
    const db = database.db;
    expect(
      await failure(db.execute(sql`INSERT INTO mood_entries (user_id, score) VALUES (${userId}, 11)`)),
    ).toEqual(check('mood_entries_score_range'));
    expect(
      await failure(db.execute(sql`INSERT INTO mood_entries (user_id, score) VALUES (${userId}, 0)`)),
    ).toEqual(check('mood_entries_score_range'));
    await db.execute(sql`INSERT INTO mood_entries (user_id, score) VALUES (${userId}, 10)`);
    expect(
      await failure(
        db.execute(
          sql`INSERT INTO assessments (user_id, instrument, answers, score, severity) VALUES (${userId}, 'GAD7', '{0,1,2,3,4,0,0}', 10, 'moderate')`,
        ),
      ),
    ).toEqual(check('assessments_answer_range'));
    expect(
      await failure(
        db.execute(
          sql`INSERT INTO assessments (user_id, instrument, answers, score, severity) VALUES (${userId}, 'PHQ9', '{0,1,2,3,0,0,0}', 6, 'mild')`,
        ),
      ),
    ).toEqual(check('assessments_shape'));
    await db.execute(
      sql`INSERT INTO assessments (user_id, instrument, answers, score, severity) VALUES (${userId}, 'GAD7', '{0,1,2,3,3,0,0}', 9, 'mild')`,
    );
  });

  it('lets only one of ten concurrent bookings of a slot succeed', async () => {
    const therapist = await insertUser('slot-therapist@example.com', 'therapist');
    const patients = await Promise.all(
      Array.from({ length: 10 }, (_, i) => insertUser(`slot-p${i}@example.com`)),
    );
    const startsAt = new Date(Math.ceil(Date.now() / 3_600_000 + 24) * 3_600_000);
    const results = await Promise.allSettled(
      patients.map((patientId) =>
        database.db.insert(therapySessions).values({ patientId, therapistId: therapist, startsAt }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(refused).toHaveLength(9);
    for (const reason of refused)
      expect(await failure(Promise.reject(reason))).toEqual({
        code: '23505',
        constraint: 'therapy_sessions_therapist_slot_uq',
      });
  });

  it('rejects a session that does not start on a slot boundary', async () => {
    const therapist = await insertUser('edge-therapist@example.com', 'therapist');
    const patient = await insertUser('edge-patient@example.com');
    const startsAt = new Date(Math.ceil(Date.now() / 3_600_000 + 24) * 3_600_000 + 15 * 60_000);
    expect(
      await failure(
        database.db.insert(therapySessions).values({ patientId: patient, therapistId: therapist, startsAt }),
      ),
    ).toEqual(check('therapy_sessions_slot_boundary'));
  });

  it('refreshes the views and they hold the expected rows', async () => {
    const db = database.db;
    const userId = await insertUser('views@example.com');
    const [basic] = await db.select({ id: plans.id }).from(plans).where(eq(plans.code, 'basic'));
    await db.insert(subscriptions).values({ userId, planId: basic!.id });
    expect(await viewsStale(db)).toBe(true);
    const result = await refreshViews(db);
    expect(result.map((r) => r.name)).toEqual([
      'mv_user_permissions',
      'mv_user_features',
      'mv_users_with_subscription',
      'mv_user_counts',
    ]);
    const [{ count: userCount }] = (await queryRows(
      db,
      z.object({ count: num }),
      sql`SELECT count(*)::int AS count FROM users`,
    )) as [{ count: number }];
    for (const r of result.filter((v) => v.name !== 'mv_user_counts')) {
      expect(r.rows).toBe(userCount);
      expect(r.ms).toBeGreaterThanOrEqual(0);
    }
    expect(await viewsStale(db)).toBe(false);
    const [feat] = await queryRows(
      db,
      z.object({ plan: z.string(), features: z.array(z.string()) }),
      sql`SELECT plan, features FROM mv_user_features WHERE user_id = ${userId}`,
    );
    expect(feat).toEqual({
      plan: 'basic',
      features: ['assessments', 'data_export', 'mood_tracking', 'therapist_booking'],
    });
    const [perm] = await queryRows(
      db,
      z.object({ role: z.string(), privilege_level: num, permissions: z.array(z.string()) }),
      sql`SELECT role, privilege_level, permissions FROM mv_user_permissions WHERE user_id = ${userId}`,
    );
    expect(perm?.role).toBe('patient');
    expect(perm?.privilege_level).toBe(10);
    expect(perm?.permissions).toContain('mood.write');
    // The user counts add up to the users, by role, plan, status and subscription status.
    const counts = await queryRows(
      db,
      z.object({ role: z.string(), plan: z.string(), subscription_status: z.string(), users: z.number() }),
      sql`SELECT role, plan, subscription_status, users FROM mv_user_counts`,
    );
    expect(counts.reduce((n, c) => n + c.users, 0)).toBe(userCount);
    expect(counts).toContainEqual({
      role: 'patient',
      plan: 'basic',
      subscription_status: 'active',
      users: 1,
    });
    // A write that does not touch the views' columns leaves them fresh; one that does makes them stale.
    await db.update(users).set({ failedLogins: 1 }).where(eq(users.id, userId));
    expect(await viewsStale(db)).toBe(false);
    await db.update(users).set({ name: 'Renamed' }).where(eq(users.id, userId));
    expect(await viewsStale(db)).toBe(true);
  });
});
