// Issue 9 #8, the clinical rules (docs/decisions/clinical-rules.md): a therapist who is
// not accepting patients is not booked by new ones; a patient holds at most
// MAX_UPCOMING_BOOKINGS sessions ahead, also under concurrency; one open crisis alert per
// patient, later crisis screenings attached to it; no notes on a cancelled session; a
// therapist demoted to patient loses their upcoming sessions and no longer acts on them.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import * as admin from '../server/domain/admin-users.ts';
import { createUser, expectError, measure, slot, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS } from './helpers.ts';

const MAX = 3;
const CRISIS_ANSWERS = [1, 1, 1, 1, 1, 1, 1, 1, 2];

describe.each(DB_KINDS)('clinical rules on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let therapist: TestUser;
  let adminUser: TestUser;
  let hour = 24;
  const nextSlot = () => {
    hour += 1;
    return slot(hour);
  };
  const book = (p: TestUser, t: TestUser, startsAt = nextSlot()) =>
    callerFor(deps, p.claims).therapy.book({ therapistId: t.id, startsAt });

  beforeAll(async () => {
    deps = await createTestDeps(kind, { MAX_UPCOMING_BOOKINGS: String(MAX) });
    therapist = await createUser(deps.db, { role: 'therapist', name: 'Dr Rule' });
    adminUser = await createUser(deps.db, { role: 'admin' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  describe('a therapist not accepting patients', () => {
    it('is not booked by a new patient (CONFLICT, saying why), but still by a patient in their care', async () => {
      const closed = await createUser(deps.db, { role: 'therapist', profile: { bio: 'full' } });
      const existing = await createUser(deps.db, { plan: 'basic' });
      await book(existing, closed);
      await deps.db.execute(
        sql`UPDATE therapist_profiles SET accepting_patients = false WHERE user_id = ${closed.id}`,
      );
      const newcomer = await createUser(deps.db, { plan: 'basic' });
      const err = await expectError(book(newcomer, closed), 'CONFLICT');
      expect(err.message).toBe('This therapist is not accepting new patients');
      // Continuity of care: the patient already seeing them books a follow-up, in 2 queries.
      const { result, queries } = await measure(() => book(existing, closed));
      expect(result.status).toBe('booked');
      expect(queries).toBe(2);
    });
  });

  describe('the cap on upcoming bookings', () => {
    it(`holds a patient to MAX_UPCOMING_BOOKINGS (${MAX}) ahead, sequentially`, async () => {
      const patient = await createUser(deps.db, { plan: 'basic' });
      for (let i = 0; i < MAX; i += 1) await book(patient, therapist);
      const err = await expectError(book(patient, therapist), 'CONFLICT');
      expect(err.message).toMatch(/3 upcoming sessions/);
      // A cancellation frees a place.
      const [first] = await queryRows(
        deps.db,
        z.object({ id: z.string() }),
        sql`SELECT id FROM therapy_sessions WHERE patient_id = ${patient.id} ORDER BY starts_at LIMIT 1`,
      );
      await callerFor(deps, patient.claims).therapy.cancel({ sessionId: first!.id });
      expect((await book(patient, therapist)).status).toBe('booked');
    });

    it('holds exactly under concurrency: 12 parallel bookings of free slots → MAX booked', async () => {
      const patient = await createUser(deps.db, { plan: 'basic' });
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => book(patient, therapist)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(MAX);
      const [row] = await queryRows(
        deps.db,
        z.object({ n: z.number() }),
        sql`SELECT count(*)::int AS n FROM therapy_sessions WHERE patient_id = ${patient.id} AND status = 'booked'`,
      );
      expect(Number(row!.n)).toBe(MAX);
    });
  });

  describe('crisis alerts', () => {
    it('one open alert per patient: later crisis screenings attach to it and still answer crisis: true', async () => {
      const patient = await createUser(deps.db, { plan: 'basic' });
      const submit = () =>
        callerFor(deps, patient.claims).assessments.submit({ instrument: 'PHQ9', answers: CRISIS_ANSWERS });
      const first = await submit();
      // In parallel too: the unique index and ON CONFLICT keep it to one alert.
      const more = await Promise.all(Array.from({ length: 5 }, submit));
      expect([first, ...more].every((r) => r.crisis)).toBe(true);
      const alerts = await queryRows(
        deps.db,
        z.object({ status: z.string(), submissions: z.number(), last_assessment_id: z.string() }),
        sql`SELECT status, submissions, last_assessment_id FROM crisis_alerts WHERE user_id = ${patient.id}`,
      );
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ status: 'open', submissions: 6 });
      expect(more.map((r) => r.id)).toContain(alerts[0]!.last_assessment_id);
      // The duty team sees it once, with the count.
      const list = await callerFor(deps, therapist.claims).crisis.list({ status: 'open', limit: 100 });
      const mine = list.items.filter((a) => a.patient.id === patient.id);
      expect(mine).toHaveLength(1);
      expect(mine[0]!.submissions).toBe(6);
      // Once acknowledged, the next crisis screening raises a new alert.
      await callerFor(deps, therapist.claims).crisis.acknowledge({ alertId: mine[0]!.id });
      await submit();
      const [count] = await queryRows(
        deps.db,
        z.object({ open: z.number(), total: z.number() }),
        sql`SELECT count(*) FILTER (WHERE status = 'open')::int AS open, count(*)::int AS total
            FROM crisis_alerts WHERE user_id = ${patient.id}`,
      );
      expect(count).toMatchObject({ open: 1, total: 2 });
    });
  });

  describe('notes', () => {
    it('are refused on a cancelled session (CONFLICT), nothing stored', async () => {
      const patient = await createUser(deps.db, { plan: 'basic' });
      const session = await book(patient, therapist);
      await callerFor(deps, patient.claims).therapy.cancel({ sessionId: session.id });
      const err = await expectError(
        callerFor(deps, therapist.claims).therapy.addNote({
          sessionId: session.id,
          note: 'Should not be kept',
        }),
        'CONFLICT',
      );
      expect(err.message).toMatch(/cancelled/);
      const [row] = await queryRows(
        deps.db,
        z.object({ n: z.number() }),
        sql`SELECT count(*)::int AS n FROM session_notes WHERE session_id = ${session.id}`,
      );
      expect(Number(row!.n)).toBe(0);
    });
  });

  describe('a therapist demoted to patient', () => {
    it("has their upcoming sessions cancelled and no longer cancels former patients' sessions", async () => {
      const dr = await createUser(deps.db, { role: 'therapist' });
      const patient = await createUser(deps.db, { plan: 'basic' });
      const upcoming = await book(patient, dr);
      // A past session of theirs (booked long ago) stays as it was.
      const [past] = await queryRows(
        deps.db,
        z.object({ id: z.string() }),
        sql`INSERT INTO therapy_sessions (patient_id, therapist_id, starts_at, created_at)
            VALUES (${patient.id}, ${dr.id}, date_trunc('hour', now()) - interval '48 hours', now() - interval '72 hours')
            RETURNING id`,
      );
      await admin.setRole(deps, { id: adminUser.id, privilegeLevel: 90, ip: '127.0.0.1' }, dr.id, 'patient');
      const rows = await queryRows(
        deps.db,
        z.object({ id: z.string(), status: z.string(), cancelled_by: z.string().nullable() }),
        sql`SELECT id, status, cancelled_by FROM therapy_sessions WHERE therapist_id = ${dr.id}`,
      );
      expect(rows.find((r) => r.id === upcoming.id)).toMatchObject({
        status: 'cancelled',
        cancelled_by: adminUser.id,
      });
      expect(rows.find((r) => r.id === past!.id)).toMatchObject({ status: 'booked' });

      // Booked again (e.g. by SQL, or a session the demotion missed): the former therapist,
      // even with a token that still says therapist, cannot cancel it.
      const again = await book(patient, therapist);
      await deps.db.execute(sql`UPDATE therapy_sessions SET therapist_id = ${dr.id} WHERE id = ${again.id}`);
      await expectError(callerFor(deps, dr.claims).therapy.cancel({ sessionId: again.id }), 'NOT_FOUND');
      // The patient still can.
      expect((await callerFor(deps, patient.claims).therapy.cancel({ sessionId: again.id })).status).toBe(
        'cancelled',
      );
    });

    it('a therapist set to therapist again keeps their sessions and still cancels them', async () => {
      const dr = await createUser(deps.db, { role: 'therapist' });
      const patient = await createUser(deps.db, { plan: 'basic' });
      const session = await book(patient, dr);
      await admin.setRole(
        deps,
        { id: adminUser.id, privilegeLevel: 100, ip: '127.0.0.1' },
        dr.id,
        'therapist',
      );
      const [kept] = await queryRows(
        deps.db,
        z.object({ status: z.string() }),
        sql`SELECT status FROM therapy_sessions WHERE id = ${session.id}`,
      );
      expect(kept!.status).toBe('booked');
      expect((await callerFor(deps, dr.claims).therapy.cancel({ sessionId: session.id })).status).toBe(
        'cancelled',
      );
    });
  });
});
