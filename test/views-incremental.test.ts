// The claims and admin views are kept current by triggers (migration 0029): a role, plan,
// status or catalog change is in them when its transaction commits, with no refresh; the
// repair (refresh_materialized_views) finds nothing to put right and reproduces the same
// content, and does put right rows that were changed behind the triggers' back.
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Db, queryRows } from '../db/client.ts';
import { refreshViews } from '../db/views.ts';
import { createUser, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS, REAL_DATABASE_URL } from './helpers.ts';

type Deps = Awaited<ReturnType<typeof createTestDeps>>;

const viewRow = z.object({
  role: z.string(),
  privilege_level: z.number(),
  permissions: z.array(z.string()),
  plan: z.string(),
  features: z.array(z.string()),
  status: z.string(),
  subscription_status: z.string(),
  name: z.string(),
});

/** What the three per-user views say about one user (undefined: in none of them). */
async function viewsOf(db: Db, userId: string) {
  const [row] = await queryRows(
    db,
    viewRow,
    sql`SELECT p.role, p.privilege_level, p.permissions, f.plan, f.features, w.status, w.subscription_status, w.name
        FROM mv_user_permissions p JOIN mv_user_features f USING (user_id)
        JOIN mv_users_with_subscription w USING (user_id) WHERE p.user_id = ${userId}`,
  );
  return row;
}

const countsRow = z.object({
  role: z.string(),
  status: z.string(),
  plan: z.string(),
  sub: z.string(),
  n: z.number(),
});

/** The user counts as analytics.overview reads them (summed over the stripes), zeros left out. */
async function counts(db: Db, from: 'mv_user_counts' | 'mv_user_counts_source') {
  return queryRows(
    db,
    countsRow,
    sql`SELECT role, status, plan, subscription_status AS sub, sum(users)::int AS n FROM ${sql.identifier(from)}
        GROUP BY 1, 2, 3, 4 HAVING sum(users) <> 0 ORDER BY 1, 2, 3, 4`,
  );
}

/** Every row of the four views, in a fixed order, as text: to compare whole contents. */
async function contents(db: Db) {
  const text = z.object({ t: z.string() });
  const all = async (q: ReturnType<typeof sql>) => (await queryRows(db, text, q)).map((r) => r.t);
  return {
    permissions: await all(sql`SELECT v::text AS t FROM mv_user_permissions v ORDER BY user_id`),
    features: await all(sql`SELECT v::text AS t FROM mv_user_features v ORDER BY user_id`),
    users: await all(sql`SELECT v::text AS t FROM mv_users_with_subscription v ORDER BY user_id`),
    counts: await counts(db, 'mv_user_counts'),
  };
}

/** The same, computed from the base tables by the views' definitions (the *_source views). */
async function definitions(db: Db) {
  const text = z.object({ t: z.string() });
  const all = async (q: ReturnType<typeof sql>) => (await queryRows(db, text, q)).map((r) => r.t);
  return {
    permissions: await all(sql`SELECT v::text AS t FROM mv_user_permissions_source v ORDER BY user_id`),
    features: await all(sql`SELECT v::text AS t FROM mv_user_features_source v ORDER BY user_id`),
    users: await all(sql`SELECT v::text AS t FROM mv_users_with_subscription_source v ORDER BY user_id`),
    counts: await counts(db, 'mv_user_counts_source'),
  };
}

describe.each(DB_KINDS)('incrementally maintained views on %s', (kind) => {
  let deps: Deps;
  let admin: TestUser;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
    admin = await createUser(deps.db, { role: 'superadmin' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  it('shows a new user, a role change and a plan change as soon as the write returns, with no refresh', async () => {
    const before = await counts(deps.db, 'mv_user_counts');
    const user = await createUser(deps.db, { name: 'Fresh Patient' });
    expect(await viewsOf(deps.db, user.id)).toMatchObject({
      role: 'patient',
      plan: 'free',
      status: 'active',
      name: 'Fresh Patient',
    });
    const api = callerFor(deps, admin.claims).admin.users;
    await api.setRole({ userId: user.id, role: 'therapist' });
    const asTherapist = await viewsOf(deps.db, user.id);
    expect(asTherapist).toMatchObject({ role: 'therapist', privilege_level: 40 });
    expect(asTherapist?.permissions).toContain('sessions.manage');
    await api.setPlan({ userId: user.id, planCode: 'premium' });
    const onPremium = await viewsOf(deps.db, user.id);
    expect(onPremium).toMatchObject({ role: 'therapist', plan: 'premium', subscription_status: 'active' });
    expect(onPremium?.features).toContain('data_export');
    await api.suspend({ userId: user.id, reason: 'test' });
    expect(await viewsOf(deps.db, user.id)).toMatchObject({ status: 'suspended' });
    // The counts moved with it: one more suspended premium therapist than before.
    const key = (c: z.output<typeof countsRow>) => `${c.role}/${c.status}/${c.plan}/${c.sub}`;
    const was = new Map(before.map((c) => [key(c), c.n]));
    const now = new Map((await counts(deps.db, 'mv_user_counts')).map((c) => [key(c), c.n]));
    expect(
      (now.get('therapist/suspended/premium/active') ?? 0) -
        (was.get('therapist/suspended/premium/active') ?? 0),
    ).toBe(1);
    // …and the dashboard reads them.
    const overview = await callerFor(deps, admin.claims).analytics.overview();
    const suspended = [...now]
      .filter(([k]) => k.split('/')[1] === 'suspended')
      .reduce((n, [, v]) => n + v, 0);
    expect(overview.usersByStatus.suspended).toBe(suspended);
    // A deleted user leaves every view at once.
    await deps.db.execute(sql`DELETE FROM users WHERE id = ${user.id}`);
    expect(await viewsOf(deps.db, user.id)).toBeUndefined();
    expect(await contents(deps.db)).toEqual(await definitions(deps.db));
  });

  it('follows a catalog change (a permission granted to a role) for every user of the role', async () => {
    const patients = [await createUser(deps.db), await createUser(deps.db)];
    await deps.db.execute(sql`INSERT INTO permissions (name) VALUES ('views.test_permission')`);
    await deps.db.execute(
      sql`INSERT INTO role_permissions (role_id, permission_id)
          SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'patient' AND p.name = 'views.test_permission'`,
    );
    for (const p of patients)
      expect((await viewsOf(deps.db, p.id))?.permissions).toContain('views.test_permission');
    await deps.db.execute(
      sql`DELETE FROM role_permissions WHERE permission_id = (SELECT id FROM permissions WHERE name = 'views.test_permission')`,
    );
    await deps.db.execute(sql`DELETE FROM permissions WHERE name = 'views.test_permission'`);
    for (const p of patients)
      expect((await viewsOf(deps.db, p.id))?.permissions).not.toContain('views.test_permission');
    expect(await contents(deps.db)).toEqual(await definitions(deps.db));
  });

  it('repairs nothing when the triggers kept up, and the repair reproduces the same content', async () => {
    await createUser(deps.db, { plan: 'basic' });
    const kept = await contents(deps.db);
    expect(kept).toEqual(await definitions(deps.db));
    const repair = await refreshViews(deps.db);
    expect(repair.map((v) => [v.name, v.repaired])).toEqual([
      ['mv_user_permissions', 0],
      ['mv_user_features', 0],
      ['mv_users_with_subscription', 0],
      ['mv_user_counts', 0],
    ]);
    expect(await contents(deps.db)).toEqual(kept);
  });

  it('puts right what changed behind the triggers, and reports how much', async () => {
    const user = await createUser(deps.db);
    // A bulk load's way: maintenance off for its own transaction (scripts/bulk-seed.ts).
    await deps.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT set_config('manas360.view_sync', 'off', true)`);
      await tx.execute(sql`UPDATE users SET name = 'Behind The Back' WHERE id = ${user.id}`);
    });
    await deps.db.execute(
      sql`UPDATE mv_user_counts SET users = users + 5
          WHERE (role, status, plan, stripe) = ('patient', 'active', 'free', user_count_stripe(${user.id}))`,
    );
    await deps.db.execute(sql`DELETE FROM mv_user_permissions WHERE user_id = ${user.id}`);
    expect(await contents(deps.db)).not.toEqual(await definitions(deps.db));
    const repair = Object.fromEntries((await refreshViews(deps.db)).map((v) => [v.name, v.repaired]));
    // The user's rows differ in two views; the first repair re-syncs all of the user's rows.
    expect(repair.mv_user_permissions).toBe(1);
    expect(repair.mv_user_features).toBe(0);
    expect(repair.mv_users_with_subscription).toBe(0);
    expect(repair.mv_user_counts).toBeGreaterThan(0);
    expect((await viewsOf(deps.db, user.id))?.name).toBe('Behind The Back');
    expect(await contents(deps.db)).toEqual(await definitions(deps.db));
  });
});

describe.skipIf(!REAL_DATABASE_URL)(
  'incrementally maintained views under concurrent writers (PostgreSQL)',
  () => {
    let deps: Deps;
    let conns: postgres.Sql[] = [];
    beforeAll(async () => {
      deps = await createTestDeps('postgres');
      const url = (deps.database as { url?: string }).url;
      if (!url) throw new Error('test database url missing');
      conns = [postgres(url, { max: 1, onnotice: () => {} }), postgres(url, { max: 1, onnotice: () => {} })];
    });
    afterAll(async () => {
      await Promise.all(conns.map((c) => c.end()));
      await deps?.dispose();
    });

    it('keeps both of two concurrent changes to one user (role in one transaction, plan in another)', async () => {
      for (const firstCommits of ['role', 'plan'] as const) {
        const user = await createUser(deps.db);
        const [a, b] = conns as [postgres.Sql, postgres.Sql];
        let releaseRole!: () => void;
        let releasePlan!: () => void;
        const roleHeld = new Promise<void>((r) => {
          releaseRole = r;
        });
        const planHeld = new Promise<void>((r) => {
          releasePlan = r;
        });
        let roleWritten!: () => void;
        let planWritten!: () => void;
        const roleDone = new Promise<void>((r) => {
          roleWritten = r;
        });
        const planDone = new Promise<void>((r) => {
          planWritten = r;
        });
        // Both writes are made (uncommitted) before either transaction commits.
        const roleTx = a.begin(async (tx) => {
          await tx`UPDATE users SET role_id = (SELECT id FROM roles WHERE name = 'therapist') WHERE id = ${user.id}`;
          roleWritten();
          await roleHeld;
        });
        const planTx = b.begin(async (tx) => {
          await tx`UPDATE subscriptions SET plan_id = (SELECT id FROM plans WHERE code = 'premium') WHERE user_id = ${user.id}`;
          planWritten();
          await planHeld;
        });
        await Promise.all([roleDone, planDone]);
        if (firstCommits === 'role') {
          releaseRole();
          await roleTx;
          releasePlan();
          await planTx;
        } else {
          releasePlan();
          await planTx;
          releaseRole();
          await roleTx;
        }
        expect(await viewsOf(deps.db, user.id)).toMatchObject({ role: 'therapist', plan: 'premium' });
      }
      expect(await contents(deps.db)).toEqual(await definitions(deps.db));
    });
  },
);
