// Issue 27, on-call and escalation (server/domain/crisis-duty.ts): staff mark themselves on
// call; a new alert notifies every on-call staff member at once; unacknowledged after
// CRISIS_ESCALATE_AFTER_MINUTES it escalates to every admin, again after as long once more,
// recorded on the alert, in the audit log and as live-queue events; acknowledging ends it;
// the patient is never a recipient; analytics.overview reports the median and p95 time to
// acknowledge. The channel here records what it is handed (the notices and recipients the
// duty chose); the email channel's delivery through a real SMTP server is in crisis-e2e.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import type { CrisisNotice, NotificationChannel, StaffRecipient } from '../server/notify/index.ts';
import { createUser, expectError, measure, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS } from './helpers.ts';

const CRISIS = [1, 1, 1, 1, 1, 1, 1, 1, 2];
const AFTER = 10; // CRISIS_ESCALATE_AFTER_MINUTES (the default)

describe.each(DB_KINDS)('crisis duty on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  const sent: Array<{ to: StaffRecipient; notice: CrisisNotice }> = [];
  const recorder: NotificationChannel = {
    name: 'recorder',
    async notify(_tx, to, notice) {
      sent.push({ to, notice });
    },
  };
  let onCallA: TestUser;
  let onCallB: TestUser;
  let offCall: TestUser;
  let later: TestUser;
  let admins: TestUser[];

  const raise = async () => {
    const patient = await createUser(deps.db);
    await callerFor(deps, patient.claims).assessments.submit({ instrument: 'PHQ9', answers: CRISIS });
    const [alert] = await queryRows(
      deps.db,
      z.object({ id: z.string() }),
      sql`SELECT id FROM crisis_alerts WHERE user_id = ${patient.id} AND status = 'open'`,
    );
    return { patient, alertId: alert!.id };
  };
  const backdate = (alertId: string, minutes: number) =>
    deps.db.execute(
      sql`UPDATE crisis_alerts SET created_at = now() - make_interval(secs => ${minutes * 60}) WHERE id = ${alertId}`,
    );
  const alertState = async (alertId: string) =>
    (
      await queryRows(
        deps.db,
        z.object({ level: z.number(), escalated: z.boolean(), notified: z.boolean() }),
        sql`SELECT escalation_level::int AS level, escalated_at IS NOT NULL AS escalated, notified_at IS NOT NULL AS notified
            FROM crisis_alerts WHERE id = ${alertId}`,
      )
    )[0]!;
  const auditOf = (action: string, alertId: string) =>
    queryRows(
      deps.db,
      z.object({ details: z.record(z.string(), z.unknown()), target_id: z.string() }),
      sql`SELECT details, target_id FROM audit_log WHERE action = ${action} AND details->>'alertId' = ${alertId} ORDER BY id`,
    );

  beforeAll(async () => {
    deps = await createTestDeps(kind, { CRISIS_ESCALATE_AFTER_MINUTES: String(AFTER) });
    deps.notificationChannels.splice(0, deps.notificationChannels.length, recorder);
    onCallA = await createUser(deps.db, { role: 'therapist', name: 'On Call A' });
    onCallB = await createUser(deps.db, { role: 'admin', name: 'On Call B' });
    offCall = await createUser(deps.db, { role: 'therapist', name: 'Off Call' });
    later = await createUser(deps.db, { role: 'therapist', name: 'Later' });
    admins = [
      onCallB,
      await createUser(deps.db, { role: 'admin' }),
      await createUser(deps.db, { role: 'superadmin' }),
    ];
    const inOneHour = new Date(Date.now() + 3_600_000);
    await callerFor(deps, onCallA.claims).crisis.onCall.set({ endsAt: inOneHour });
    await callerFor(deps, onCallB.claims).crisis.onCall.set({ endsAt: inOneHour });
    await callerFor(deps, later.claims).crisis.onCall.set({
      startsAt: new Date(Date.now() + 1_800_000),
      endsAt: new Date(Date.now() + 7_200_000),
    });
    // Alerts other tests in this file left open are not this test's business.
    await deps.crisisWatch.check();
  });
  afterAll(async () => {
    await deps?.dispose();
  });
  beforeEach(() => {
    sent.length = 0;
  });

  it('crisis.onCall.set and list: windows now and later, off call, bounds, audited; patients refused', async () => {
    const list = await callerFor(deps, offCall.claims).crisis.onCall.list();
    const mine = list.filter((r) => [onCallA.id, onCallB.id, later.id].includes(r.userId));
    expect(mine.map((r) => [r.name, r.onCallNow])).toEqual([
      ['On Call A', true],
      ['On Call B', true],
      ['Later', false],
    ]);
    const t = await createUser(deps.db, { role: 'therapist' });
    const off = await callerFor(deps, t.claims).crisis.onCall.set({ endsAt: new Date(Date.now() + 60_000) });
    expect(off.onCall).toBe(true);
    expect(await callerFor(deps, t.claims).crisis.onCall.set({ endsAt: null })).toMatchObject({
      onCall: false,
    });
    expect((await callerFor(deps, t.claims).crisis.onCall.list()).some((r) => r.userId === t.id)).toBe(false);
    await expectError(
      callerFor(deps, t.claims).crisis.onCall.set({ endsAt: new Date(Date.now() - 1000) }),
      'BAD_REQUEST',
    );
    await expectError(
      callerFor(deps, t.claims).crisis.onCall.set({ endsAt: new Date(Date.now() + 15 * 86_400_000) }),
      'BAD_REQUEST',
    );
    const entries = await queryRows(
      deps.db,
      z.object({ n: z.number() }),
      sql`SELECT count(*)::int AS n FROM audit_log WHERE action = 'crisis.onCall.set' AND actor_id = ${t.id}`,
    );
    expect(entries[0]!.n).toBe(2);
    const patient = await createUser(deps.db);
    await expectError(callerFor(deps, patient.claims).crisis.onCall.list(), 'FORBIDDEN', {
      reason: 'missing_permission',
      required: 'crisis.manage',
    });
    await expectError(
      callerFor(deps, patient.claims).crisis.onCall.set({ endsAt: new Date(Date.now() + 60_000) }),
      'FORBIDDEN',
    );
  });

  it('a new alert notifies every staff member on call now, once, and never the patient', async () => {
    const { patient, alertId } = await raise();
    await deps.crisisWatch.check();
    const raised = sent.filter((s) => s.notice.alertId === alertId);
    expect(raised.map((s) => s.to.id).sort()).toEqual([onCallA.id, onCallB.id].sort());
    expect(raised.every((s) => s.notice.kind === 'raised' && s.notice.level === 0)).toBe(true);
    expect(sent.some((s) => s.to.id === patient.id || s.to.email === patient.email)).toBe(false);
    expect(await alertState(alertId)).toMatchObject({ notified: true, level: 0 });
    const audit = await auditOf('crisis.notified', alertId);
    expect(audit).toEqual([{ details: { alertId, recipients: 2 }, target_id: patient.id }]);
    // Checked again (here or on another instance): nobody is told twice.
    sent.length = 0;
    await deps.crisisWatch.check();
    expect(sent.filter((s) => s.notice.alertId === alertId)).toEqual([]);
  });

  it('escalates to every admin after the interval, again after a second one, then no more', async () => {
    const { patient, alertId } = await raise();
    await deps.crisisWatch.check();
    sent.length = 0;
    await backdate(alertId, AFTER - 0.5);
    await deps.crisisWatch.check();
    expect(sent).toEqual([]);
    expect((await alertState(alertId)).level).toBe(0);

    await backdate(alertId, AFTER + 0.5);
    const head = await maxEventId();
    await deps.crisisWatch.check();
    const first = sent.filter((s) => s.notice.alertId === alertId);
    expect(first.map((s) => s.to.id).sort()).toEqual(admins.map((a) => a.id).sort());
    expect(first.every((s) => s.notice.kind === 'escalated' && s.notice.level === 1)).toBe(true);
    expect(first[0]!.notice.waitedMinutes).toBe(AFTER);
    expect(await alertState(alertId)).toMatchObject({ level: 1, escalated: true });
    expect(await eventsAfter(head, alertId)).toEqual([{ kind: 'escalated', level: 1 }]);

    sent.length = 0;
    await deps.crisisWatch.check();
    expect(sent).toEqual([]);
    await backdate(alertId, 2 * AFTER + 0.5);
    await deps.crisisWatch.check();
    expect(sent.filter((s) => s.notice.level === 2).length).toBe(admins.length);
    await backdate(alertId, 10 * AFTER);
    sent.length = 0;
    await deps.crisisWatch.check();
    expect(sent).toEqual([]);
    expect((await alertState(alertId)).level).toBe(2);
    const audit = await auditOf('crisis.escalated', alertId);
    expect(audit.map((a) => [a.details.level, a.details.recipients, a.target_id])).toEqual([
      [1, admins.length, patient.id],
      [2, admins.length, patient.id],
    ]);
    expect(sent.some((s) => s.to.id === patient.id)).toBe(false);
  });

  it('an acknowledged alert does not escalate', async () => {
    const { alertId } = await raise();
    await callerFor(deps, onCallA.claims).crisis.acknowledge({ alertId });
    await backdate(alertId, 3 * AFTER);
    sent.length = 0;
    await deps.crisisWatch.check();
    expect(sent.filter((s) => s.notice.alertId === alertId)).toEqual([]);
    expect((await alertState(alertId)).level).toBe(0);
  });

  it('a patient who is staff (on call, an admin) is not told of their own alert', async () => {
    const { patient, alertId } = await raise();
    await deps.db.execute(
      sql`UPDATE users SET role_id = (SELECT id FROM roles WHERE name = 'admin') WHERE id = ${patient.id}`,
    );
    await deps.db.execute(
      sql`INSERT INTO crisis_on_call (user_id, ends_at) VALUES (${patient.id}, now() + interval '1 hour')`,
    );
    await deps.crisisWatch.check();
    await backdate(alertId, AFTER + 1);
    await deps.crisisWatch.check();
    const mine = sent.filter((s) => s.notice.alertId === alertId);
    expect(mine.map((s) => s.notice.kind).sort()).toEqual([
      ...Array(admins.length).fill('escalated'),
      ...Array(2).fill('raised'),
    ]);
    expect(mine.some((s) => s.to.id === patient.id)).toBe(false);
    await deps.db.execute(sql`DELETE FROM crisis_on_call WHERE user_id = ${patient.id}`);
    await deps.db.execute(sql`UPDATE users SET status = 'suspended' WHERE id = ${patient.id}`);
  });

  it('analytics.overview: median and p95 time to acknowledge over the last 30 days', async () => {
    // Every alert acknowledged so far, plus five with known waits.
    for (const minutes of [1, 2, 3, 4, 60]) {
      const { alertId } = await raise();
      await backdate(alertId, minutes);
      await callerFor(deps, onCallA.claims).crisis.acknowledge({ alertId });
    }
    const [expected] = await queryRows(
      deps.db,
      z.object({ p50: z.number(), p95: z.number() }),
      sql`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::float8 AS p50,
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY s)::float8 AS p95
          FROM (SELECT extract(epoch FROM acknowledged_at - created_at) AS s FROM crisis_alerts
                WHERE acknowledged_at IS NOT NULL) t`,
    );
    const superadmin = admins[2]!;
    const { result, queries } = await measure(() => callerFor(deps, superadmin.claims).analytics.overview());
    expect(queries).toBe(1);
    expect(result.crisisTimeToAcknowledgeSeconds.median).toBeCloseTo(expected!.p50, 3);
    expect(result.crisisTimeToAcknowledgeSeconds.p95).toBeCloseTo(expected!.p95, 3);
    expect(result.crisisTimeToAcknowledgeSeconds.p95!).toBeGreaterThan(
      result.crisisTimeToAcknowledgeSeconds.median!,
    );
  });

  async function maxEventId() {
    const [r] = await queryRows(
      deps.db,
      z.object({ id: z.coerce.number() }),
      sql`SELECT coalesce(max(id), 0) AS id FROM crisis_events`,
    );
    return r!.id;
  }
  function eventsAfter(id: number, alertId: string) {
    return queryRows(
      deps.db,
      z.object({ kind: z.string(), level: z.number() }),
      sql`SELECT kind, level::int AS level FROM crisis_events WHERE id > ${id} AND alert_id = ${alertId} ORDER BY id`,
    );
  }
});
