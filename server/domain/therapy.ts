// therapy.*: booking, cancelling and listing sessions, and the therapist's encrypted
// session notes (docs/api.md).
//
// Slot rule (shared/inputs/therapy.ts): a session starts on a whole UTC hour, strictly in
// the future and at most 180 days ahead, and lasts 50 minutes. The database decides double
// bookings: a unique index over live sessions per (therapist, start) and per (patient,
// start), so of any number of concurrent bookings of one slot exactly one succeeds and the
// rest get CONFLICT. Cancelling frees the slot (the indexes skip cancelled sessions).
//
// Clinical rules (docs/decisions/clinical-rules.md): a therapist who is not accepting
// patients is booked only by patients already in their care; a patient has at most
// MAX_UPCOMING_BOOKINGS booked sessions ahead (counted under a lock on the patient's row,
// in the INSERT); no notes on a cancelled session; only a current therapist acts as a
// session's therapist (a demoted one's upcoming sessions are cancelled by setRole).
import { and, asc, desc, eq, gt, gte, lt, ne, or, type SQL, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { type Db, findPgError, queryRows, uniqueViolation } from '../../db/client.ts';
import { prepared } from '../../db/prepared.ts';
import { date } from '../../db/row.ts';
import { roles, therapistProfiles, therapySessions, users } from '../../db/schema/index.ts';
import type {
  AddNoteInput,
  BookSessionInput,
  MySessionsInput,
  ScheduleInput,
} from '../../shared/inputs/therapy.ts';
import { accessAudit, type Reader } from '../audit.ts';
import { NoteDecryptError, type NotesCipher, openWithDataKey, sealWithDataKey } from '../crypto/notes.ts';
import { afterTimeCursor, decodeCursor, exactTimestamp, timePage } from '../keyset.ts';
import { badRequest, conflict, DomainError, notAllowed, notFound } from './errors.ts';

const sessionColumns = {
  id: therapySessions.id,
  patientId: therapySessions.patientId,
  therapistId: therapySessions.therapistId,
  startsAt: therapySessions.startsAt,
  durationMinutes: therapySessions.durationMinutes,
  status: therapySessions.status,
  createdAt: therapySessions.createdAt,
};

/**
 * Two queries: the therapist exists (and is one) and takes this patient — accepting
 * patients, or the patient already in their care (a session with them that was not
 * cancelled) — then the INSERT the database arbitrates, which also holds the patient to
 * `maxUpcoming` booked sessions ahead (upcoming_bookings_locked: migrations/0019).
 */
export async function bookSession(db: Db, patientId: string, input: BookSessionInput, maxUpcoming: number) {
  const [therapist] = await db
    .select({
      id: users.id,
      takesPatient: sql<boolean>`coalesce(${therapistProfiles.acceptingPatients}, true) OR EXISTS (
        SELECT 1 FROM ${therapySessions} ts WHERE ts.therapist_id = ${users.id}
          AND ts.patient_id = ${patientId} AND ts.status <> 'cancelled')`,
    })
    .from(users)
    .innerJoin(roles, eq(roles.id, users.roleId))
    .leftJoin(therapistProfiles, eq(therapistProfiles.userId, users.id))
    .where(
      sql`${users.id} = ${input.therapistId} AND ${roles.name} = 'therapist'
          AND ${users.status} = 'active' AND ${users.deletedAt} IS NULL`,
    );
  if (!therapist) throw notFound('Therapist');
  if (!therapist.takesPatient) throw conflict('This therapist is not accepting new patients');
  try {
    const [session] = await queryRows(
      db,
      bookedRow,
      sql`INSERT INTO therapy_sessions (patient_id, therapist_id, starts_at)
          SELECT ${patientId}::uuid, ${therapist.id}::uuid, ${input.startsAt.toISOString()}::timestamptz
          WHERE upcoming_bookings_locked(${patientId}) < ${maxUpcoming}
          RETURNING id, patient_id, therapist_id, starts_at, duration_minutes, status, created_at`,
    );
    if (!session)
      throw conflict(`You already have ${maxUpcoming} upcoming sessions booked, the most allowed at once`);
    return {
      id: session.id,
      patientId: session.patient_id,
      therapistId: session.therapist_id,
      startsAt: session.starts_at,
      durationMinutes: session.duration_minutes,
      status: session.status,
      createdAt: session.created_at,
    };
  } catch (err) {
    if (err instanceof DomainError) throw err;
    const taken = uniqueViolation(err);
    if (taken === 'therapy_sessions_patient_slot_uq')
      throw conflict('You already have a session at that time');
    if (taken) throw conflict('That slot is already taken');
    if (findPgError(err)?.code === '23514') throw badRequest('That is not a bookable slot');
    throw err;
  }
}

/**
 * The caller takes part in the session: its patient, or its therapist while still a
 * therapist (holding sessions.manage now, read from the database: a demoted therapist no
 * longer acts on former patients' sessions).
 */
function partyOf(userId: string) {
  return or(
    eq(therapySessions.patientId, userId),
    sql`(${therapySessions.therapistId} = ${userId} AND EXISTS (
      SELECT 1 FROM users cu JOIN role_permissions rp ON rp.role_id = cu.role_id
      JOIN permissions pm ON pm.id = rp.permission_id
      WHERE cu.id = ${userId} AND pm.name = 'sessions.manage'))`,
  );
}

/**
 * The booking patient or the session's therapist cancels a booked session that has not
 * started. One UPDATE; when it changes nothing, one more SELECT says why. A session the
 * caller is not part of is reported as not found, like one that does not exist.
 */
export async function cancelSession(db: Db, userId: string, sessionId: string) {
  const party = partyOf(userId);
  const [cancelled] = await db
    .update(therapySessions)
    .set({ status: 'cancelled', cancelledAt: sql`now()`, cancelledBy: userId })
    .where(
      and(
        eq(therapySessions.id, sessionId),
        party,
        eq(therapySessions.status, 'booked'),
        gt(therapySessions.startsAt, sql`now()`),
      ),
    )
    .returning(sessionColumns);
  if (cancelled) return cancelled;
  const [session] = await db
    .select({ status: therapySessions.status })
    .from(therapySessions)
    .where(and(eq(therapySessions.id, sessionId), party));
  if (!session) throw notFound('Session');
  if (session.status !== 'booked') throw conflict(`The session is already ${session.status}`);
  throw conflict('The session has already started');
}

const patient = alias(users, 'patient');
const therapist = alias(users, 'therapist');

/**
 * Sessions the caller takes part in (as patient or therapist), newest first. One SELECT,
 * built once per shape (upcoming only or not, a cursor or not) and prepared: the same
 * statement text as building it at each call, without the building.
 */
const sessionsPage = (upcoming: boolean, cursor: boolean) => (db: Db) => {
  const userId = sql.placeholder('userId');
  const where: SQL[] = [or(eq(therapySessions.patientId, userId), eq(therapySessions.therapistId, userId))!];
  if (upcoming) where.push(eq(therapySessions.status, 'booked'), gt(therapySessions.startsAt, sql`now()`));
  if (cursor)
    where.push(
      afterTimeCursor(therapySessions.startsAt, therapySessions.id, [
        sql.placeholder('afterAt'),
        sql.placeholder('afterId'),
      ]),
    );
  return db
    .select({
      ...sessionColumns,
      patientName: patient.name,
      therapistName: therapist.name,
      key: exactTimestamp(therapySessions.startsAt),
    })
    .from(therapySessions)
    .innerJoin(patient, eq(patient.id, therapySessions.patientId))
    .innerJoin(therapist, eq(therapist.id, therapySessions.therapistId))
    .where(and(...where))
    .orderBy(desc(therapySessions.startsAt), desc(therapySessions.id))
    .limit(sql.placeholder('limit'))
    .prepare('therapy_mine');
};

export async function mySessions(db: Db, userId: string, input: MySessionsInput) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const upcoming = Boolean(input.upcoming);
  const rows = await prepared(
    db,
    `therapy_mine:${upcoming}:${after !== undefined}`,
    sessionsPage(upcoming, after !== undefined),
  ).execute({ userId, afterAt: after?.[0], afterId: after?.[1], limit: input.limit + 1 });
  return timePage(rows, input.limit);
}

/** The therapist's agenda from `from` (default now), soonest first. One SELECT. */
export async function therapistSchedule(db: Db, therapistId: string, input: ScheduleInput) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const where: SQL[] = [
    eq(therapySessions.therapistId, therapistId),
    gte(therapySessions.startsAt, input.from ?? sql`now()`),
  ];
  if (input.to) where.push(lt(therapySessions.startsAt, input.to));
  if (!input.includeCancelled) where.push(ne(therapySessions.status, 'cancelled'));
  if (after) where.push(afterTimeCursor(therapySessions.startsAt, therapySessions.id, after, 'asc'));
  const rows = await db
    .select({ ...sessionColumns, patientName: patient.name, key: exactTimestamp(therapySessions.startsAt) })
    .from(therapySessions)
    .innerJoin(patient, eq(patient.id, therapySessions.patientId))
    .where(and(...where))
    .orderBy(asc(therapySessions.startsAt), asc(therapySessions.id))
    .limit(input.limit + 1);
  return timePage(rows, input.limit);
}

/** Only the session's own therapist may write or read its notes. */
function notTheTherapist(): DomainError {
  return notAllowed("Only the session's therapist can see its notes");
}

/** A session as therapy.book's INSERT returns it. */
const bookedRow = z.object({
  id: z.string(),
  patient_id: z.string(),
  therapist_id: z.string(),
  starts_at: date,
  duration_minutes: z.number(),
  status: z.enum(['booked', 'cancelled', 'completed']),
  created_at: date,
});

const noteSessionRow = z.object({
  therapist_id: z.string(),
  patient_id: z.string(),
  status: z.string(),
  patient_erased: z.boolean(),
  key_id: z.string().nullable(),
  wrapped_key: z.string().nullable(),
});
const addedNoteRow = z.object({ id: z.string(), session_id: z.string(), created_at: date });

/**
 * Two queries: whose session it is (with the patient's wrapped data key), then the INSERT of
 * the note sealed with that key — creating the key in the same statement for a patient's
 * first note (a third query only when two notes race to create it). The plaintext never
 * reaches the database. No note on an erased patient's session.
 */
export async function addNote(
  db: Db,
  cipher: NotesCipher,
  authorId: string,
  input: AddNoteInput,
): Promise<{ id: string; sessionId: string; createdAt: Date }> {
  const [session] = await queryRows(
    db,
    noteSessionRow,
    sql`SELECT ts.therapist_id, ts.patient_id, ts.status, p.deleted_at IS NOT NULL AS patient_erased, k.key_id, k.wrapped_key
        FROM therapy_sessions ts JOIN users p ON p.id = ts.patient_id
        LEFT JOIN user_data_keys k ON k.user_id = ts.patient_id
        WHERE ts.id = ${input.sessionId}`,
  );
  if (!session) throw notFound('Session');
  if (session.therapist_id !== authorId) throw notTheTherapist();
  if (session.patient_erased) throw conflict("The patient's account has been erased");
  if (session.status === 'cancelled') throw conflict('The session was cancelled; it takes no notes');
  const existing = session.wrapped_key && { keyId: session.key_id!, ciphertext: session.wrapped_key };
  const fresh = existing ? undefined : cipher.newDataKey(session.patient_id);
  const dataKey = existing ? cipher.unwrapDataKey(session.patient_id, existing) : fresh!.key;
  const keyId = existing ? existing.keyId : fresh!.wrapped.keyId;
  const ciphertext = sealWithDataKey(dataKey, input.note, input.sessionId);
  const [note] = await queryRows(
    db,
    addedNoteRow,
    sql`WITH k AS (
          ${fresh ? sql`INSERT INTO user_data_keys (user_id, key_id, wrapped_key) VALUES (${session.patient_id}, ${keyId}, ${fresh.wrapped.ciphertext}) ON CONFLICT (user_id) DO NOTHING RETURNING 1` : sql`SELECT 1`}
        )
        INSERT INTO session_notes (session_id, author_id, key_id, ciphertext, patient_key)
        SELECT ${input.sessionId}, ${authorId}, ${keyId}, ${ciphertext}, true FROM k
        WHERE EXISTS (SELECT 1 FROM therapy_sessions WHERE id = ${input.sessionId} AND status <> 'cancelled')
        RETURNING id, session_id, created_at`,
  );
  // Another note created the patient's key first (seal with that one), or the session was
  // cancelled meanwhile (the first query now says so).
  if (!note) return addNote(db, cipher, authorId, input);
  return { id: note.id, sessionId: note.session_id, createdAt: note.created_at };
}

const notesRow = z.object({
  therapist_id: z.string(),
  patient_id: z.string(),
  data_key_id: z.string().nullable(),
  data_key: z.string().nullable(),
  id: z.string().nullable(),
  key_id: z.string().nullable(),
  ciphertext: z.string().nullable(),
  patient_key: z.boolean().nullable(),
  created_at: date.nullable(),
});

/**
 * therapy.notes, an audited read: ONE statement reads the session, the patient's wrapped data
 * key and the notes (oldest first) and, only when the reader is the session's therapist and
 * there is a note to show, writes the access entry about the patient (a data-modifying CTE:
 * no read without its entry). Another reader gets no notes and leaves no entry. Notes sealed with the patient's
 * key open with it; older ones with the notes key.
 */
export async function readNotes(db: Db, cipher: NotesCipher, reader: Reader, sessionId: string) {
  const rows = await queryRows(
    db,
    notesRow,
    sql`WITH s AS (
          SELECT id, therapist_id, patient_id FROM therapy_sessions
          WHERE id = ${sessionId} AND therapist_id = ${reader.id}
        ), audit AS (
          ${accessAudit(
            'therapy.notes',
            reader,
            sql`SELECT patient_id AS subject, jsonb_build_object('sessionId', id) AS details FROM s
                WHERE EXISTS (SELECT 1 FROM session_notes n WHERE n.session_id = s.id)`,
            true,
          )}
        )
        SELECT ts.therapist_id, ts.patient_id, k.key_id AS data_key_id, k.wrapped_key AS data_key,
               n.id, n.key_id, n.ciphertext, n.patient_key, n.created_at
        FROM therapy_sessions ts
        LEFT JOIN s ON s.id = ts.id
        LEFT JOIN user_data_keys k ON s.id IS NOT NULL AND k.user_id = ts.patient_id
        LEFT JOIN session_notes n ON s.id IS NOT NULL AND n.session_id = ts.id
        WHERE ts.id = ${sessionId}
        ORDER BY n.created_at, n.id`,
  );
  const [first] = rows;
  if (!first) throw notFound('Session');
  if (first.therapist_id !== reader.id) throw notTheTherapist();
  let dataKey: Buffer | undefined;
  const open = (keyId: string, ciphertext: string, patientKey: boolean) => {
    if (!patientKey) return cipher.open({ keyId, ciphertext }, sessionId);
    if (!first.data_key_id || !first.data_key) throw new NoteDecryptError("the patient's data key is gone");
    dataKey ??= cipher.unwrapDataKey(first.patient_id, {
      keyId: first.data_key_id,
      ciphertext: first.data_key,
    });
    return openWithDataKey(dataKey, ciphertext, sessionId);
  };
  const notes = rows.flatMap((n) =>
    n.id && n.key_id && n.ciphertext && n.created_at
      ? [{ id: n.id, note: open(n.key_id, n.ciphertext, n.patient_key === true), createdAt: n.created_at }]
      : [],
  );
  return { sessionId, notes };
}
