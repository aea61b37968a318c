// therapy.* and therapists.*: booking on slot boundaries, the database deciding double
// bookings (10 concurrent → 1 success + 9 CONFLICT), cancel, mine, schedule, and the
// encrypted session notes (only the session's therapist; no plaintext anywhere in the DB).
import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { sessionNotes, therapySessions } from '../db/schema/index.ts';
import { NotesCipher, parseNotesKeys } from '../server/crypto/notes.ts';
import { BOOKING_HORIZON_DAYS } from '../shared/inputs/therapy.ts';
import { createUser, expectError, measure, queriesOf, slot, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS } from './helpers.ts';

const OLD_NOTES_KEY = randomBytes(32).toString('base64');

describe.each(DB_KINDS)('therapy sessions and notes on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let patient: TestUser;
  let therapist: TestUser;
  let otherTherapist: TestUser;
  let hour = 24;
  /** A fresh future slot for each booking, so tests do not collide. */
  const nextSlot = () => {
    hour += 1;
    return slot(hour);
  };

  beforeAll(async () => {
    deps = await createTestDeps(kind, { NOTES_ENCRYPTION_KEY: `old:${OLD_NOTES_KEY}` });
    patient = await createUser(deps.db, { plan: 'basic', name: 'Pat' });
    therapist = await createUser(deps.db, { role: 'therapist', name: 'Dr One' });
    otherTherapist = await createUser(deps.db, { role: 'therapist', name: 'Dr Two' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  describe('therapy.book', () => {
    it('books a future whole-hour slot in two queries', async () => {
      const startsAt = nextSlot();
      const { result, queries } = await measure(() =>
        callerFor(deps, patient.claims).therapy.book({ therapistId: therapist.id, startsAt }),
      );
      expect(queries).toBe(2);
      expect(result).toMatchObject({
        patientId: patient.id,
        therapistId: therapist.id,
        startsAt,
        status: 'booked',
        durationMinutes: 50,
      });
    });

    it('answers CONFLICT when the slot is taken, and when the patient is busy then', async () => {
      const startsAt = nextSlot();
      await callerFor(deps, patient.claims).therapy.book({ therapistId: therapist.id, startsAt });
      const other = await createUser(deps.db, { plan: 'premium' });
      await expectError(
        callerFor(deps, other.claims).therapy.book({ therapistId: therapist.id, startsAt }),
        'CONFLICT',
      );
      const err = await expectError(
        callerFor(deps, patient.claims).therapy.book({ therapistId: otherTherapist.id, startsAt }),
        'CONFLICT',
      );
      expect(err.message).toMatch(/already have a session/);
    });

    it('lets exactly one of ten concurrent bookings of one slot succeed; the rest get CONFLICT', async () => {
      const patients = await Promise.all(
        Array.from({ length: 10 }, () => createUser(deps.db, { plan: 'basic' })),
      );
      const startsAt = nextSlot();
      const results = await Promise.allSettled(
        patients.map((p) => callerFor(deps, p.claims).therapy.book({ therapistId: therapist.id, startsAt })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(1);
      expect(failed).toHaveLength(9);
      for (const f of failed) expect(f.reason).toMatchObject({ code: 'CONFLICT' });
      const [count] = await queryRows(
        deps.db,
        countRow,
        sql`SELECT count(*)::int AS n FROM therapy_sessions WHERE therapist_id = ${therapist.id}
            AND starts_at = ${startsAt.toISOString()}::timestamptz AND status <> 'cancelled'`,
      );
      expect(count!.n).toBe(1);
    });

    it('answers NOT_FOUND for an unknown therapist and for a user who is not a therapist', async () => {
      await expectError(
        callerFor(deps, patient.claims).therapy.book({
          therapistId: '00000000-0000-4000-8000-000000000000',
          startsAt: nextSlot(),
        }),
        'NOT_FOUND',
      );
      const notATherapist = await createUser(deps.db);
      await expectError(
        callerFor(deps, patient.claims).therapy.book({ therapistId: notATherapist.id, startsAt: nextSlot() }),
        'NOT_FOUND',
      );
    });

    it('refuses the free plan (missing_feature therapist_booking), a therapist, and an anonymous caller', async () => {
      const free = await createUser(deps.db, { plan: 'free' });
      const input = { therapistId: therapist.id, startsAt: nextSlot() };
      await expectError(callerFor(deps, free.claims).therapy.book(input), 'FORBIDDEN', {
        reason: 'missing_feature',
        required: 'therapist_booking',
      });
      await expectError(callerFor(deps, otherTherapist.claims).therapy.book(input), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'sessions.book',
      });
      await expectError(callerFor(deps, null).therapy.book(input), 'UNAUTHORIZED');
    });

    it.each([
      ['a non-UUID therapist id', () => ({ therapistId: "1' OR '1'='1", startsAt: slot(30) })],
      [
        'a start at half past',
        () => ({
          therapistId: '00000000-0000-4000-8000-000000000000',
          startsAt: new Date(slot(30).getTime() + 30 * 60_000),
        }),
      ],
      [
        'a start one millisecond off the hour',
        () => ({
          therapistId: '00000000-0000-4000-8000-000000000000',
          startsAt: new Date(slot(30).getTime() + 1),
        }),
      ],
      [
        'a start in the past',
        () => ({ therapistId: '00000000-0000-4000-8000-000000000000', startsAt: slot(-2) }),
      ],
      [
        'a start beyond the booking horizon',
        () => ({
          therapistId: '00000000-0000-4000-8000-000000000000',
          startsAt: slot(BOOKING_HORIZON_DAYS * 24 + 2),
        }),
      ],
      [
        'a start as a string',
        () => ({ therapistId: '00000000-0000-4000-8000-000000000000', startsAt: slot(30).toISOString() }),
      ],
      [
        'an invalid date',
        () => ({ therapistId: '00000000-0000-4000-8000-000000000000', startsAt: new Date(Number.NaN) }),
      ],
      [
        'an unknown key',
        () => ({ therapistId: '00000000-0000-4000-8000-000000000000', startsAt: slot(30), patientId: 'x' }),
      ],
    ])('rejects %s with BAD_REQUEST and no query', async (_what, input) => {
      const queries = await queriesOf(() =>
        expectError(callerFor(deps, patient.claims).therapy.book(input() as never), 'BAD_REQUEST'),
      );
      expect(queries).toBe(0);
    });
  });

  describe('therapy.cancel', () => {
    it('lets the patient cancel in one query, which frees the slot', async () => {
      const startsAt = nextSlot();
      const session = await callerFor(deps, patient.claims).therapy.book({
        therapistId: therapist.id,
        startsAt,
      });
      const { result, queries } = await measure(() =>
        callerFor(deps, patient.claims).therapy.cancel({ sessionId: session.id }),
      );
      expect(queries).toBe(1);
      expect(result.status).toBe('cancelled');
      const other = await createUser(deps.db, { plan: 'basic' });
      const rebooked = await callerFor(deps, other.claims).therapy.book({
        therapistId: therapist.id,
        startsAt,
      });
      expect(rebooked.id).not.toBe(session.id);
    });

    it("lets the session's therapist cancel", async () => {
      const session = await callerFor(deps, patient.claims).therapy.book({
        therapistId: therapist.id,
        startsAt: nextSlot(),
      });
      const cancelled = await callerFor(deps, therapist.claims).therapy.cancel({ sessionId: session.id });
      expect(cancelled.status).toBe('cancelled');
      const [row] = await deps.db.select().from(therapySessions).where(eq(therapySessions.id, session.id));
      expect(row?.cancelledBy).toBe(therapist.id);
    });

    it('answers NOT_FOUND to anyone else, and for an unknown session, in at most two queries', async () => {
      const session = await callerFor(deps, patient.claims).therapy.book({
        therapistId: therapist.id,
        startsAt: nextSlot(),
      });
      const stranger = await createUser(deps.db, { plan: 'basic' });
      for (const claims of [stranger.claims, otherTherapist.claims]) {
        const queries = await queriesOf(() =>
          expectError(callerFor(deps, claims).therapy.cancel({ sessionId: session.id }), 'NOT_FOUND'),
        );
        expect(queries).toBe(2);
      }
      await expectError(
        callerFor(deps, patient.claims).therapy.cancel({ sessionId: '00000000-0000-4000-8000-000000000000' }),
        'NOT_FOUND',
      );
      const [row] = await deps.db.select().from(therapySessions).where(eq(therapySessions.id, session.id));
      expect(row?.status).toBe('booked');
    });

    it('answers CONFLICT for a cancelled session and for one that has started', async () => {
      const session = await callerFor(deps, patient.claims).therapy.book({
        therapistId: therapist.id,
        startsAt: nextSlot(),
      });
      await callerFor(deps, patient.claims).therapy.cancel({ sessionId: session.id });
      await expectError(
        callerFor(deps, patient.claims).therapy.cancel({ sessionId: session.id }),
        'CONFLICT',
      );
      const [past] = await deps.db
        .insert(therapySessions)
        .values({ patientId: patient.id, therapistId: therapist.id, startsAt: slot(-3) })
        .returning();
      await expectError(callerFor(deps, patient.claims).therapy.cancel({ sessionId: past!.id }), 'CONFLICT');
    });

    it('rejects a non-UUID session id with BAD_REQUEST and no query', async () => {
      const queries = await queriesOf(() =>
        expectError(callerFor(deps, patient.claims).therapy.cancel({ sessionId: 'abc' }), 'BAD_REQUEST'),
      );
      expect(queries).toBe(0);
      await expectError(callerFor(deps, null).therapy.cancel({ sessionId: 'abc' }), 'UNAUTHORIZED');
    });
  });

  describe('therapy.mine and therapy.schedule', () => {
    let p: TestUser;
    let t: TestUser;
    // Fixed once, so an hour boundary passing mid-test changes nothing.
    const agendaBase = slot(1000);
    const agenda = (i: number) => new Date(agendaBase.getTime() + i * 3_600_000);
    beforeAll(async () => {
      p = await createUser(deps.db, { plan: 'basic' });
      t = await createUser(deps.db, { role: 'therapist', name: 'Dr Agenda' });
      for (let i = 0; i < 5; i++)
        await callerFor(deps, p.claims).therapy.book({ therapistId: t.id, startsAt: agenda(i) });
      const [first] = (await callerFor(deps, p.claims).therapy.mine({ limit: 100 })).items.slice(-1);
      await callerFor(deps, p.claims).therapy.cancel({ sessionId: first!.id });
    });

    it("lists the patient's sessions newest first with names, in one query per page", async () => {
      const caller = callerFor(deps, p.claims);
      const { result, queries } = await measure(() => caller.therapy.mine({ limit: 3 }));
      expect(queries).toBe(1);
      expect(result.items).toHaveLength(3);
      expect(result.items[0]).toMatchObject({ therapistName: 'Dr Agenda', startsAt: agenda(4) });
      const rest = await caller.therapy.mine({ limit: 3, cursor: result.nextCursor! });
      expect(rest.items.map((s) => s.startsAt)).toEqual([agenda(1), agenda(0)]);
      expect(rest.nextCursor).toBeNull();
      expect((await caller.therapy.mine({ upcoming: true })).items).toHaveLength(4);
    });

    it("lists the therapist's own sessions in therapy.mine too", async () => {
      const mine = await callerFor(deps, t.claims).therapy.mine();
      expect(mine.items).toHaveLength(5);
      expect(mine.items[0]?.patientName).toBe(p.name);
    });

    it('gives the therapist the agenda soonest first, without cancelled sessions, in one query', async () => {
      const caller = callerFor(deps, t.claims);
      const { result, queries } = await measure(() => caller.therapy.schedule({ limit: 2 }));
      expect(queries).toBe(1);
      expect(result.items.map((s) => s.startsAt)).toEqual([agenda(1), agenda(2)]);
      const next = await caller.therapy.schedule({ limit: 10, cursor: result.nextCursor! });
      expect(next.items.map((s) => s.startsAt)).toEqual([agenda(3), agenda(4)]);
      const all = await caller.therapy.schedule({ includeCancelled: true, to: agenda(3) });
      expect(all.items.map((s) => s.status)).toEqual(['cancelled', 'booked', 'booked']);
    });

    it('refuses the schedule to a patient and sessions to an anonymous caller', async () => {
      await expectError(callerFor(deps, p.claims).therapy.schedule(), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'sessions.manage',
      });
      await expectError(callerFor(deps, null).therapy.mine(), 'UNAUTHORIZED');
      await expectError(callerFor(deps, { ...p.claims, permissions: [] }).therapy.mine(), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'sessions.read',
      });
    });

    it.each([
      ['mine', { limit: 1000 }],
      ['mine', { upcoming: 'yes' }],
      ['schedule', { from: slot(5), to: slot(1) }],
      ['schedule', { cursor: 'not-a-cursor' }],
    ] as const)('rejects bad %s input %j with BAD_REQUEST', async (proc, input) => {
      await expectError(callerFor(deps, t.claims).therapy[proc](input as never), 'BAD_REQUEST');
    });
  });

  describe('session notes', () => {
    const PLAINTEXT = `Patient disclosed panic attacks at work ${randomBytes(6).toString('hex')}`;
    let sessionId: string;
    beforeAll(async () => {
      const session = await callerFor(deps, patient.claims).therapy.book({
        therapistId: therapist.id,
        startsAt: nextSlot(),
      });
      sessionId = session.id;
    });

    it("lets the session's therapist add a note in two queries and read it back in one", async () => {
      const { result, queries } = await measure(() =>
        callerFor(deps, therapist.claims).therapy.addNote({ sessionId, note: PLAINTEXT }),
      );
      expect(queries).toBe(2);
      expect(result.sessionId).toBe(sessionId);
      const read = await measure(() => callerFor(deps, therapist.claims).therapy.notes({ sessionId }));
      expect(read.queries).toBe(1);
      expect(read.result.notes.map((n) => n.note)).toEqual([PLAINTEXT]);
    });

    it('stores no plaintext in any column of any table: only the key id and ciphertext', async () => {
      const tables = await queryRows(
        deps.db,
        z.object({ table_name: z.string() }),
        sql`SELECT table_name FROM information_schema.tables
            WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
      );
      expect(tables.length).toBeGreaterThan(10);
      const needle = PLAINTEXT.slice(-24);
      for (const { table_name } of tables) {
        const [hit] = await queryRows(
          deps.db,
          countRow,
          sql`SELECT count(*)::int AS n FROM ${sql.identifier(table_name)} t WHERE t::text LIKE ${`%${needle}%`}`,
        );
        expect(hit!.n, `plaintext found in ${table_name}`).toBe(0);
      }
      const rows = await deps.db.select().from(sessionNotes).where(eq(sessionNotes.sessionId, sessionId));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.keyId).toBe('old');
      expect(rows[0]!.ciphertext).toMatch(/^[\w-]{16}\.[\w-]{22}\.[\w-]+$/);
      expect(Buffer.from(rows[0]!.ciphertext.split('.')[2]!, 'base64url').toString('latin1')).not.toContain(
        'panic',
      );
    });

    it("refuses the session's patient (missing_permission) and another therapist (FORBIDDEN)", async () => {
      await expectError(callerFor(deps, patient.claims).therapy.notes({ sessionId }), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'notes.read',
      });
      await expectError(
        callerFor(deps, patient.claims).therapy.addNote({ sessionId, note: 'x' }),
        'FORBIDDEN',
        { reason: 'missing_permission', required: 'notes.write' },
      );
      const superadmin = await createUser(deps.db, { role: 'superadmin' });
      for (const claims of [otherTherapist.claims, superadmin.claims]) {
        const err = await expectError(callerFor(deps, claims).therapy.notes({ sessionId }), 'FORBIDDEN');
        expect(err.message).not.toContain('panic');
        await expectError(
          callerFor(deps, claims).therapy.addNote({ sessionId, note: 'intrusion' }),
          'FORBIDDEN',
        );
      }
      expect(
        await deps.db.select().from(sessionNotes).where(eq(sessionNotes.sessionId, sessionId)),
      ).toHaveLength(1);
      await expectError(callerFor(deps, null).therapy.notes({ sessionId }), 'UNAUTHORIZED');
    });

    it('answers NOT_FOUND for an unknown session and BAD_REQUEST for bad input', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      await expectError(callerFor(deps, therapist.claims).therapy.notes({ sessionId: unknown }), 'NOT_FOUND');
      await expectError(
        callerFor(deps, therapist.claims).therapy.addNote({ sessionId: unknown, note: 'x' }),
        'NOT_FOUND',
      );
      for (const input of [
        { sessionId, note: 'n'.repeat(5001) },
        { sessionId, note: '' },
        { sessionId: 'nope', note: 'x' },
        { sessionId, note: 'x', keyId: 'old' },
      ]) {
        const queries = await queriesOf(() =>
          expectError(callerFor(deps, therapist.claims).therapy.addNote(input as never), 'BAD_REQUEST'),
        );
        expect(queries).toBe(0);
      }
    });

    it('reads notes sealed under a retired key after the key rotates', async () => {
      const original = deps.notes;
      try {
        deps.notes = new NotesCipher(
          parseNotesKeys(`new:${randomBytes(32).toString('base64')},old:${OLD_NOTES_KEY}`),
        );
        await callerFor(deps, therapist.claims).therapy.addNote({ sessionId, note: 'after rotation' });
        const { notes } = await callerFor(deps, therapist.claims).therapy.notes({ sessionId });
        expect(notes.map((n) => n.note)).toEqual([PLAINTEXT, 'after rotation']);
        // The new note is sealed with the patient's data key, which the first note's key
        // ('old') wraps: rotation re-wraps nothing; the row names the wrapping key.
        const keyIds = await deps.db
          .select({ keyId: sessionNotes.keyId, patientKey: sessionNotes.patientKey })
          .from(sessionNotes)
          .where(eq(sessionNotes.sessionId, sessionId))
          .orderBy(sessionNotes.createdAt);
        expect(keyIds.map((k) => k.keyId)).toEqual(['old', 'old']);
        expect(keyIds.map((k) => k.patientKey)).toEqual([true, true]);
      } finally {
        deps.notes = original;
      }
    });

    it('refuses a ciphertext copied onto another session with a generic error that holds no plaintext', async () => {
      const other = await callerFor(deps, patient.claims).therapy.book({
        therapistId: therapist.id,
        startsAt: nextSlot(),
      });
      const [source] = await deps.db
        .select()
        .from(sessionNotes)
        .where(eq(sessionNotes.sessionId, sessionId))
        .limit(1);
      await deps.db.insert(sessionNotes).values({
        sessionId: other.id,
        authorId: therapist.id,
        keyId: source!.keyId,
        ciphertext: source!.ciphertext,
      });
      const err = await expectError(
        callerFor(deps, therapist.claims).therapy.notes({ sessionId: other.id }),
        'INTERNAL_SERVER_ERROR',
      );
      expect(`${err.message} ${String(err.cause)}`).not.toContain('panic');
    });
  });
});
