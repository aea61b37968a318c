// The clinical domain: therapists, sessions, notes, mood, assessments, crisis alerts.
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  pgTable,
  primaryKey,
  smallint,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { tstz } from './columns.ts';
import { users } from './users.ts';

export const therapistProfiles = pgTable(
  'therapist_profiles',
  {
    userId: uuid()
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    bio: text(),
    specializations: text().array().notNull().default(sql`'{}'::text[]`),
    languages: text().array().notNull().default(sql`'{}'::text[]`),
    feePaise: integer().notNull().default(0),
    acceptingPatients: boolean().notNull().default(true),
    updatedAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    index('therapist_profiles_specializations_idx').using('gin', t.specializations),
    index('therapist_profiles_languages_idx').using('gin', t.languages),
    check('therapist_profiles_fee_nonnegative', sql`${t.feePaise} >= 0`),
  ],
);

/** A session occupies one slot: it starts on a whole UTC hour (see docs/api.md, therapy.book). */
export const therapySessions = pgTable(
  'therapy_sessions',
  {
    id: uuid().primaryKey().defaultRandom(),
    patientId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    therapistId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    startsAt: tstz().notNull(),
    durationMinutes: smallint().notNull().default(50),
    status: text({ enum: ['booked', 'cancelled', 'completed'] })
      .notNull()
      .default('booked'),
    cancelledAt: tstz(),
    cancelledBy: uuid(),
    createdAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    // The database decides double bookings: one live session per therapist slot, and
    // per patient slot, safe under concurrent inserts.
    uniqueIndex('therapy_sessions_therapist_slot_uq')
      .on(t.therapistId, t.startsAt)
      .where(sql`${t.status} <> 'cancelled'`),
    uniqueIndex('therapy_sessions_patient_slot_uq')
      .on(t.patientId, t.startsAt)
      .where(sql`${t.status} <> 'cancelled'`),
    index('therapy_sessions_patient_idx').on(t.patientId, t.startsAt),
    index('therapy_sessions_therapist_idx').on(t.therapistId, t.startsAt),
    // analytics.overview counts booked (and upcoming) sessions from this index alone.
    index('therapy_sessions_booked_idx').on(t.startsAt).where(sql`${t.status} = 'booked'`),
    check('therapy_sessions_slot_boundary', sql`mod(extract(epoch FROM ${t.startsAt})::bigint, 3600) = 0`),
    check('therapy_sessions_duration_range', sql`${t.durationMinutes} BETWEEN 15 AND 60`),
    check('therapy_sessions_status_valid', sql`${t.status} IN ('booked', 'cancelled', 'completed')`),
    check('therapy_sessions_distinct_people', sql`${t.patientId} <> ${t.therapistId}`),
  ],
);

/**
 * Notes are AES-256-GCM ciphertext (iv.tag.ciphertext, base64url). New notes are sealed with
 * the patient's data key (user_data_keys, itself wrapped by the notes key `key_id`):
 * patient_key = true. Notes written before per-user keys are sealed with the notes key itself.
 */
export const sessionNotes = pgTable(
  'session_notes',
  {
    id: uuid().primaryKey().defaultRandom(),
    sessionId: uuid()
      .notNull()
      .references(() => therapySessions.id, { onDelete: 'cascade' }),
    authorId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    keyId: text().notNull(),
    ciphertext: text().notNull(),
    patientKey: boolean().notNull().default(false),
    createdAt: tstz().notNull().defaultNow(),
  },
  (t) => [index('session_notes_session_idx').on(t.sessionId, t.createdAt)],
);

/**
 * Partitioned by month of created_at (migration 0031, docs/decisions/partitioning.md): the
 * primary key includes it.
 */
export const moodEntries = pgTable(
  'mood_entries',
  {
    id: uuid().notNull().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    score: smallint().notNull(),
    note: text(),
    tags: text().array().notNull().default(sql`'{}'::text[]`),
    createdAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'mood_entries_pkey', columns: [t.id, t.createdAt] }),
    index('mood_entries_user_created_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    check('mood_entries_score_range', sql`${t.score} BETWEEN 1 AND 10`),
    check('mood_entries_note_length', sql`length(${t.note}) <= 5000`),
    check('mood_entries_tags_count', sql`cardinality(${t.tags}) <= 20`),
  ],
);

/** Partitioned by month of created_at, like mood_entries: the primary key includes it. */
export const assessments = pgTable(
  'assessments',
  {
    id: uuid().notNull().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    instrument: text({ enum: ['PHQ9', 'GAD7'] }).notNull(),
    answers: smallint().array().notNull(),
    score: smallint().notNull(),
    severity: text().notNull(),
    crisis: boolean().notNull().default(false),
    createdAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'assessments_pkey', columns: [t.id, t.createdAt] }),
    index('assessments_user_created_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    index('assessments_created_idx').on(t.createdAt),
    check(
      'assessments_shape',
      sql`(${t.instrument} = 'PHQ9' AND cardinality(${t.answers}) = 9 AND ${t.score} BETWEEN 0 AND 27)
        OR (${t.instrument} = 'GAD7' AND cardinality(${t.answers}) = 7 AND ${t.score} BETWEEN 0 AND 21)`,
    ),
    check('assessments_answer_range', sql`0 <= ALL(${t.answers}) AND 3 >= ALL(${t.answers})`),
    check('assessments_no_null_answers', sql`array_position(${t.answers}, NULL) IS NULL`),
  ],
);

export const crisisAlerts = pgTable(
  'crisis_alerts',
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // The assessment that raised the alert, by its whole key (assessments is partitioned).
    assessmentId: uuid().notNull().unique(),
    assessmentCreatedAt: tstz().notNull(),
    status: text({ enum: ['open', 'acknowledged'] })
      .notNull()
      .default('open'),
    createdAt: tstz().notNull().defaultNow(),
    acknowledgedBy: uuid().references(() => users.id, { onDelete: 'set null' }),
    acknowledgedAt: tstz(),
    // One open alert per patient: crisis-level screenings submitted while it is open attach
    // here (how many, the latest and when) instead of raising alerts of their own.
    submissions: integer().notNull().default(1),
    lastAssessmentId: uuid(),
    lastAssessmentCreatedAt: tstz(),
    lastSubmittedAt: tstz().notNull().defaultNow(),
    // Escalation (server/domain/crisis-escalation.ts): 0 none, 1 the admins were told, 2 told
    // again; and when the on-call staff were notified of the alert.
    escalationLevel: smallint().notNull().default(0),
    escalatedAt: tstz(),
    notifiedAt: tstz(),
  },
  (t) => [
    foreignKey({
      name: 'crisis_alerts_assessment_fk',
      columns: [t.assessmentId, t.assessmentCreatedAt],
      foreignColumns: [assessments.id, assessments.createdAt],
    }).onDelete('cascade'),
    foreignKey({
      name: 'crisis_alerts_last_assessment_fk',
      columns: [t.lastAssessmentId, t.lastAssessmentCreatedAt],
      foreignColumns: [assessments.id, assessments.createdAt],
    }).onDelete('set null'),
    index('crisis_alerts_status_created_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
    index('crisis_alerts_created_idx').on(t.createdAt),
    // One open alert per patient (later crisis screenings attach to it: assessments.ts).
    uniqueIndex('crisis_alerts_one_open_uq').on(t.userId).where(sql`${t.status} = 'open'`),
    check('crisis_alerts_status_valid', sql`${t.status} IN ('open', 'acknowledged')`),
    check('crisis_alerts_ack_consistent', sql`(${t.status} = 'open') = (${t.acknowledgedAt} IS NULL)`),
    check('crisis_alerts_escalation_level_range', sql`${t.escalationLevel} BETWEEN 0 AND 2`),
    // The escalation job's scan: open alerts by age.
    index('crisis_alerts_open_created_idx').on(t.createdAt).where(sql`${t.status} = 'open'`),
  ],
);

/**
 * The crisis queue's event log (raised, acknowledged, escalated), written by a trigger on
 * crisis_alerts (migrations/0027_crisis_oncall.sql) with ids in commit order: what
 * crisis.onChange streams and resumes from (tracked event ids). Bounded: the escalation job
 * deletes rows older than CRISIS_EVENT_RETENTION_HOURS.
 */
export const crisisEvents = pgTable(
  'crisis_events',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    alertId: uuid()
      .notNull()
      .references(() => crisisAlerts.id, { onDelete: 'cascade' }),
    kind: text({ enum: ['raised', 'acknowledged', 'escalated'] }).notNull(),
    actorId: uuid(),
    level: smallint().notNull().default(0),
    at: tstz().notNull().defaultNow(),
  },
  (t) => [
    index('crisis_events_at_idx').on(t.at),
    check('crisis_events_kind_valid', sql`${t.kind} IN ('raised', 'acknowledged', 'escalated')`),
  ],
);

/** Who is on call for crisis alerts, from when until when (crisis.onCall.set). */
export const crisisOnCall = pgTable(
  'crisis_on_call',
  {
    userId: uuid()
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    startsAt: tstz().notNull().defaultNow(),
    endsAt: tstz().notNull(),
    updatedAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    index('crisis_on_call_ends_idx').on(t.endsAt),
    check('crisis_on_call_window', sql`${t.endsAt} > ${t.startsAt}`),
  ],
);
