// crisis.*, admin.views.*, admin.audit.list and analytics.overview: the clinical duty
// team's alerts and the admin dashboard's reads.
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { countRow, num } from '../db/row.ts';
import { auditLog, crisisAlerts, subscriptions, therapySessions } from '../db/schema/index.ts';
import { recordAudit } from '../server/audit.ts';
import { JOB_LOCK_NAMESPACE, viewRefreshJob } from '../server/jobs/index.ts';
import { createUser, expectError, measure, queriesOf, slot, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS } from './helpers.ts';

const CRISIS_PHQ9 = { instrument: 'PHQ9' as const, answers: [1, 1, 1, 1, 1, 1, 1, 1, 1] };

describe.each(DB_KINDS)('crisis alerts and the admin dashboard on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let patient: TestUser;
  let therapist: TestUser;
  let admin: TestUser;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
    patient = await createUser(deps.db, { name: 'Crisis Patient' });
    therapist = await createUser(deps.db, { role: 'therapist' });
    admin = await createUser(deps.db, { role: 'admin' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  describe('crisis.list', () => {
    it('shows every alert newest first with the patient and screening, in one query', async () => {
      // One open alert per patient (docs/decisions/clinical-rules.md): three patients.
      const patients = [await createUser(deps.db), await createUser(deps.db), patient];
      const raised = [];
      for (const p of patients) raised.push(await callerFor(deps, p.claims).assessments.submit(CRISIS_PHQ9));
      const { result, queries } = await measure(() =>
        callerFor(deps, therapist.claims).crisis.list({ limit: 2 }),
      );
      expect(queries).toBe(1);
      expect(result.items).toHaveLength(2);
      expect(result.items[0]).toMatchObject({
        status: 'open',
        patient: { id: patient.id, name: 'Crisis Patient', email: patient.email },
        assessment: { id: raised[2]!.id, instrument: 'PHQ9', score: 9, severity: 'mild' },
        submissions: 1,
      });
      const rest = await callerFor(deps, therapist.claims).crisis.list({ cursor: result.nextCursor! });
      expect([...result.items, ...rest.items].map((a) => a.assessment.id)).toEqual(
        raised.map((r) => r.id).reverse(),
      );
    });

    it('filters by status', async () => {
      const open = await callerFor(deps, admin.claims).crisis.list({ status: 'open', limit: 100 });
      expect(open.items.length).toBeGreaterThan(0);
      expect(open.items.every((a) => a.status === 'open')).toBe(true);
    });

    it('refuses a patient, and rejects a bad status or limit', async () => {
      await expectError(callerFor(deps, patient.claims).crisis.list(), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'crisis.manage',
      });
      await expectError(callerFor(deps, null).crisis.list(), 'UNAUTHORIZED');
      for (const input of [{ status: 'closed' }, { limit: 101 }, { cursor: 'x'.repeat(600) }, { all: true }])
        await expectError(callerFor(deps, therapist.claims).crisis.list(input as never), 'BAD_REQUEST');
    });
  });

  describe('crisis.acknowledge', () => {
    it('records who and when, and audits it in the same transaction: two queries', async () => {
      await callerFor(deps, patient.claims).assessments.submit(CRISIS_PHQ9);
      // The patient's one open alert (this screening attached to it if one was open).
      const [alert] = await deps.db
        .select()
        .from(crisisAlerts)
        .where(and(eq(crisisAlerts.userId, patient.id), eq(crisisAlerts.status, 'open')));
      const { result, queries } = await measure(() =>
        callerFor(deps, therapist.claims, { ip: '10.1.2.3' }).crisis.acknowledge({ alertId: alert!.id }),
      );
      expect(queries).toBe(2);
      expect(result).toMatchObject({ id: alert!.id, status: 'acknowledged', acknowledgedBy: therapist.id });
      expect(result.acknowledgedAt).toBeInstanceOf(Date);
      const audit = await deps.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.action, 'crisis.acknowledge'), eq(auditLog.actorId, therapist.id)));
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        targetId: patient.id,
        ip: '10.1.2.3',
        details: { alertId: alert!.id },
      });

      // A second acknowledgement changes nothing and is not audited again.
      const again = await queriesOf(() =>
        expectError(callerFor(deps, admin.claims).crisis.acknowledge({ alertId: alert!.id }), 'CONFLICT'),
      );
      expect(again).toBe(2);
      const [row] = await deps.db.select().from(crisisAlerts).where(eq(crisisAlerts.id, alert!.id));
      expect(row?.acknowledgedBy).toBe(therapist.id);
      expect(
        await deps.db.select().from(auditLog).where(eq(auditLog.action, 'crisis.acknowledge')),
      ).toHaveLength(1);
    });

    it('answers NOT_FOUND for an unknown alert and BAD_REQUEST for a non-UUID', async () => {
      await expectError(
        callerFor(deps, therapist.claims).crisis.acknowledge({
          alertId: '00000000-0000-4000-8000-000000000000',
        }),
        'NOT_FOUND',
      );
      const queries = await queriesOf(() =>
        expectError(
          callerFor(deps, therapist.claims).crisis.acknowledge({ alertId: '1; DROP TABLE x' }),
          'BAD_REQUEST',
        ),
      );
      expect(queries).toBe(0);
    });

    it('refuses a patient', async () => {
      await expectError(
        callerFor(deps, patient.claims).crisis.acknowledge({
          alertId: '00000000-0000-4000-8000-000000000000',
        }),
        'FORBIDDEN',
        { reason: 'missing_permission', required: 'crisis.manage' },
      );
    });
  });

  describe('admin.views', () => {
    it('reports never-refreshed views as stale, refreshes in two queries (lock, refresh + audit), then reports them', async () => {
      const before = await measure(() => callerFor(deps, admin.claims).admin.views.status());
      expect(before.queries).toBe(1);
      expect(before.result.map((v) => v.name)).toEqual([
        'mv_user_permissions',
        'mv_user_features',
        'mv_users_with_subscription',
        'mv_user_counts',
      ]);
      expect(before.result.every((v) => v.stale)).toBe(true);

      const { result, queries } = await measure(() => callerFor(deps, admin.claims).admin.views.refresh());
      // The job lock and the refresh with its audit entry; PGlite has no lock to take.
      expect(queries).toBe(kind === 'postgres' ? 2 : 1);
      const [{ n: userCount }] = (await queryRows(
        deps.db,
        countRow,
        sql`SELECT count(*)::int AS n FROM users WHERE deleted_at IS NULL`,
      )) as [{ n: number }];
      // One row per user in each per-user view; mv_user_counts holds counts, not users.
      for (const v of result.filter((r) => r.name !== 'mv_user_counts')) {
        expect(v.rows).toBe(userCount);
        expect(v.ms).toBeGreaterThanOrEqual(0);
      }
      const [audit] = await deps.db.select().from(auditLog).where(eq(auditLog.action, 'admin.views.refresh'));
      expect(audit?.actorId).toBe(admin.id);

      const after = await callerFor(deps, admin.claims).admin.views.status();
      for (const v of after) {
        expect(v.stale).toBe(false);
        if (v.name !== 'mv_user_counts') expect(v.rows).toBe(userCount);
        expect(v.lastRefreshedAt).toBeInstanceOf(Date);
        expect(Date.now() - v.lastRefreshedAt!.getTime()).toBeLessThan(60_000);
      }
      await createUser(deps.db);
      expect((await callerFor(deps, admin.claims).admin.views.status()).every((v) => v.stale)).toBe(true);
    });

    it('refuses a therapist and a patient', async () => {
      for (const user of [therapist, patient]) {
        await expectError(callerFor(deps, user.claims).admin.views.refresh(), 'FORBIDDEN', {
          reason: 'missing_permission',
          required: 'views.refresh',
        });
        await expectError(callerFor(deps, user.claims).admin.views.status(), 'FORBIDDEN', {
          reason: 'missing_permission',
          required: 'views.refresh',
        });
      }
      await expectError(callerFor(deps, null).admin.views.status(), 'UNAUTHORIZED');
    });

    it.skipIf(kind !== 'postgres')(
      'answers CONFLICT while the scheduled refresh holds the lock on another instance',
      async () => {
        // Another session (instance) holds the refresh job's advisory lock for a moment.
        await deps.db.transaction(async (tx) => {
          await tx.execute(
            sql`SELECT pg_advisory_xact_lock(${JOB_LOCK_NAMESPACE}, ${viewRefreshJob.lockId})`,
          );
          await expectError(callerFor(deps, admin.claims).admin.views.refresh(), 'CONFLICT');
        });
        await expect(callerFor(deps, admin.claims).admin.views.refresh()).resolves.toHaveLength(4);
      },
    );
  });

  describe('admin.audit.list', () => {
    let actor: TestUser;
    let target: TestUser;
    beforeAll(async () => {
      actor = await createUser(deps.db, { role: 'admin' });
      target = await createUser(deps.db);
      for (let i = 0; i < 5; i++)
        await recordAudit(deps.db, {
          actorId: actor.id,
          action: i % 2 ? 'admin.views.refresh' : 'crisis.acknowledge',
          targetId: i % 2 ? null : target.id,
          details: { i },
        });
      await recordAudit(deps.db, { actorId: null, action: 'crisis.acknowledge', details: { system: true } });
    });

    it('lists entries newest first with the actor email, filtered and paged, one query per page', async () => {
      const caller = callerFor(deps, admin.claims);
      const { result, queries } = await measure(() =>
        caller.admin.audit.list({ actorId: actor.id, limit: 2 }),
      );
      expect(queries).toBe(1);
      expect(result.items.map((e) => e.details)).toEqual([{ i: 4 }, { i: 3 }]);
      expect(result.items[0]?.actorEmail).toBe(actor.email);
      const page2 = await caller.admin.audit.list({
        actorId: actor.id,
        limit: 2,
        cursor: result.nextCursor!,
      });
      const page3 = await caller.admin.audit.list({ actorId: actor.id, limit: 2, cursor: page2.nextCursor! });
      expect([...page2.items, ...page3.items].map((e) => e.details)).toEqual([{ i: 2 }, { i: 1 }, { i: 0 }]);
      expect(page3.nextCursor).toBeNull();
      const even = await caller.admin.audit.list({ action: 'crisis.acknowledge' });
      expect(even.items.slice(0, 4).map((e) => e.details)).toEqual([
        { system: true },
        { i: 4 },
        { i: 2 },
        { i: 0 },
      ]);
      const about = await caller.admin.audit.list({ targetId: target.id });
      expect(about.items.map((e) => e.details)).toEqual([{ i: 4 }, { i: 2 }, { i: 0 }]);
      expect(about.items[0]?.targetEmail).toBe(target.email);
    });

    it('filters by a date range (from and to inclusive), one query', async () => {
      const caller = callerFor(deps, admin.claims);
      const at = (await caller.admin.audit.list({ actorId: actor.id, limit: 1 })).items[0]!.at;
      // Postgres keeps microseconds, a Date milliseconds: the entry lies in [at, at + 1 ms).
      const { result, queries } = await measure(() =>
        caller.admin.audit.list({ actorId: actor.id, from: at, to: new Date(at.getTime() + 1) }),
      );
      expect(queries).toBe(1);
      expect(result.items.length).toBeGreaterThan(0);
      expect(result.items.every((e) => e.at.getTime() === at.getTime())).toBe(true);
      const later = await caller.admin.audit.list({ actorId: actor.id, from: new Date(at.getTime() + 1000) });
      expect(later.items).toEqual([]);
      const earlier = await caller.admin.audit.list({
        actorId: actor.id,
        to: new Date(at.getTime() - 60_000),
      });
      expect(earlier.items).toEqual([]);
    });

    it('refuses a therapist, and rejects bad filters with no query', async () => {
      await expectError(callerFor(deps, therapist.claims).admin.audit.list(), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'audit.read',
      });
      for (const input of [
        { actorId: 'not-a-uuid' },
        { action: "x' OR 1=1" },
        { action: 'admin.users.set_role' },
        { from: new Date(2), to: new Date(1) },
        { action: 'a'.repeat(65) },
        { cursor: Buffer.from('["1"]').toString('base64url') },
        { limit: 500 },
      ]) {
        const queries = await queriesOf(() =>
          expectError(callerFor(deps, admin.claims).admin.audit.list(input as never), 'BAD_REQUEST'),
        );
        expect(queries).toBe(0);
      }
    });
  });

  describe('analytics.overview', () => {
    it('counts users by role, plan and status from the views, and the domain activity, in one query', async () => {
      const premium = await createUser(deps.db, { plan: 'premium' });
      const lapsed = await createUser(deps.db, { plan: 'basic' });
      await deps.db
        .update(subscriptions)
        .set({ status: 'cancelled' })
        .where(eq(subscriptions.userId, lapsed.id));
      await deps.db.insert(therapySessions).values([
        { patientId: premium.id, therapistId: therapist.id, startsAt: slot(50) },
        { patientId: premium.id, therapistId: therapist.id, startsAt: slot(-50) },
        { patientId: lapsed.id, therapistId: therapist.id, startsAt: slot(51), status: 'cancelled' },
      ]);
      await callerFor(deps, admin.claims).admin.views.refresh();

      const { result, queries } = await measure(() => callerFor(deps, admin.claims).analytics.overview());
      expect(queries).toBe(1);
      const expected = await queryRows(
        deps.db,
        z.object({ role: z.string(), plan: z.string(), n: num, active: num }),
        sql`SELECT r.name AS role, CASE WHEN s.status = 'active' THEN p.code ELSE 'free' END AS plan,
                   count(*)::int AS n, count(*) FILTER (WHERE s.status = 'active' AND p.code <> 'free')::int AS active
            FROM users u JOIN roles r ON r.id = u.role_id
            LEFT JOIN subscriptions s ON s.user_id = u.id LEFT JOIN plans p ON p.id = s.plan_id
            GROUP BY 1, 2`,
      );
      const sum = (key: 'role' | 'plan', value: string) =>
        expected.filter((e) => e[key] === value).reduce((a, e) => a + e.n, 0);
      expect(result.usersByRole).toEqual({
        patient: sum('role', 'patient'),
        therapist: sum('role', 'therapist'),
        admin: sum('role', 'admin'),
      });
      expect(result.usersByPlan.premium).toBe(sum('plan', 'premium'));
      expect(result.usersByPlan.free).toBe(sum('plan', 'free'));
      expect(result.usersByStatus).toEqual({ active: expected.reduce((a, e) => a + e.n, 0) });
      // Paid subscriptions only: the free accounts' rows (admin, therapist) are not counted.
      expect(result.activeSubscriptions).toBe(expected.reduce((a, e) => a + e.active, 0));
      expect(result.activeSubscriptions).toBeLessThan(result.usersByStatus.active!);
      const [domain] = await queryRows(
        deps.db,
        z.object({ a: num, c: num, o: num }),
        sql`SELECT (SELECT count(*)::int FROM assessments) AS a, (SELECT count(*)::int FROM crisis_alerts) AS c,
                   (SELECT count(*)::int FROM crisis_alerts WHERE status = 'open') AS o`,
      );
      expect(result.assessmentsLast30Days).toBe(domain!.a);
      expect(result.crisisAlertsLast30Days).toBe(domain!.c);
      expect(result.openCrisisAlerts).toBe(domain!.o);
      expect(result.sessionsBooked).toBe(2);
      expect(result.upcomingSessions).toBe(1);
      expect(result.viewsRefreshedAt).toBeInstanceOf(Date);
    });

    it('refuses a therapist and an anonymous caller', async () => {
      await expectError(callerFor(deps, therapist.claims).analytics.overview(), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'analytics.read',
      });
      await expectError(callerFor(deps, null).analytics.overview(), 'UNAUTHORIZED');
    });
  });
});
