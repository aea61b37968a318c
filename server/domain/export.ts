// export.mine: the caller's complete data as one JSON document (the DPDPA right of access),
// streamed section by section with keyset pages (server/domain/documents.ts).
//
// Session notes follow this clinical rule (docs/api.md): a note is the clinical
// record of the therapist who wrote it. The therapist's export holds the text of the notes
// they wrote; the patient's export lists the notes kept about their sessions (id, session,
// date) without the text, which the patient obtains through their therapist. A therapist's
// export therefore discloses their patients' health data: it is an audited read, one entry
// per patient (docs/decisions/privacy-rights.md, "Exports that hold other people's data").
//
// Statements: 1 (audit entries + profile + subscription), then per section floor(n / 500) + 1
// — 10 for a user with fewer than 500 rows in every section.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import { accessAudit, auditInsert, type Reader } from '../audit.ts';
import { type NotesCipher, openWithDataKey } from '../crypto/notes.ts';
import { exactTimestamp } from '../keyset.ts';
import type { Quota } from '../limits/index.ts';
import { jsonArray, type PagedQuery } from './documents.ts';
import { notFound } from './errors.ts';

export const EXPORT_FORMAT = 'manas360.export';
export const EXPORT_VERSION = 1;

export interface ExportDeps {
  db: Executor;
  notes: NotesCipher;
  /** One export per user per hour. */
  quota: Quota;
}

const t = (column: string) => exactTimestamp(sql.raw(column));
/** Every section's rows carry their key: k_id, and k_at (an exact timestamp) where ordered by time. */
const keyed = z.object({ k_id: z.string(), k_at: z.string() });
type Keyed = z.output<typeof keyed>;
const text = z.string().nullable();
/** Ordered by (time, id): the key of the last row of a page. */
const byTime = (at: string, id: string) => ({
  keys: [sql.raw(at), sql.raw(id)],
  keyOf: (r: Keyed) => sql`(${r.k_at}::timestamptz, ${r.k_id}::uuid)`,
});

/** A section of the document: `"name":[…]`, page by page. */
type Section = (db: Executor) => AsyncGenerator<string>;
function section<Row>(name: string, query: PagedQuery<Row>, toJson: (row: Row) => unknown): Section {
  return (db) => jsonArray(db, name, query, toJson);
}

const moodRow = keyed.extend({ score: z.number(), note: text, tags: z.array(z.string()) });
const assessmentRow = keyed.extend({
  instrument: z.string(),
  answers: z.array(z.number()),
  score: z.number(),
  severity: z.string(),
  crisis: z.boolean(),
});
const sessionRow = keyed.extend({
  patient_id: z.string(),
  therapist_id: z.string(),
  duration_minutes: z.number(),
  status: z.string(),
  created_at: z.string(),
  cancelled_at: text,
});
const noteRow = keyed.extend({
  session_id: z.string(),
  key_id: text,
  ciphertext: text,
  patient_key: z.boolean(),
  patient_id: z.string(),
  data_key_id: text,
  data_key: text,
});
const crisisRow = keyed.extend({ assessment_id: z.string(), status: z.string(), acknowledged_at: text });
const ticketRow = keyed.extend({
  subject: z.string(),
  priority: z.string(),
  status: z.string(),
  updated_at: z.string(),
});
const messageRow = keyed.extend({ ticket_id: z.string(), from_staff: z.boolean(), body: z.string() });
const apiKeyRow = keyed.extend({
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  expires_at: z.string(),
  last_used_at: text,
  revoked_at: text,
});
const auditRow = keyed.extend({
  action: z.string(),
  actor_id: text,
  ip: text,
  details: z.preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), z.unknown()),
});

function sections(userId: string, cipher: NotesCipher): Section[] {
  const me = sql`${userId}::uuid`;
  return [
    section(
      'moodEntries',
      {
        select: sql`SELECT id AS k_id, ${t('created_at')} AS k_at, score, note, tags
                    FROM mood_entries WHERE user_id = ${me}`,
        row: moodRow,
        ...byTime('created_at', 'id'),
      },
      (r) => ({ id: r.k_id, createdAt: r.k_at, score: r.score, note: r.note, tags: r.tags }),
    ),
    section(
      'assessments',
      {
        select: sql`SELECT id AS k_id, ${t('created_at')} AS k_at, instrument, answers, score, severity, crisis
                    FROM assessments WHERE user_id = ${me}`,
        row: assessmentRow,
        ...byTime('created_at', 'id'),
      },
      (r) => ({
        id: r.k_id,
        createdAt: r.k_at,
        instrument: r.instrument,
        answers: r.answers,
        score: r.score,
        severity: r.severity,
        crisis: r.crisis,
      }),
    ),
    section(
      'sessions',
      {
        select: sql`SELECT id AS k_id, ${t('starts_at')} AS k_at, patient_id, therapist_id, duration_minutes,
                           status, ${t('created_at')} AS created_at, ${t('cancelled_at')} AS cancelled_at
                    FROM therapy_sessions WHERE (patient_id = ${me} OR therapist_id = ${me})`,
        row: sessionRow,
        ...byTime('starts_at', 'id'),
      },
      (r) => ({
        id: r.k_id,
        startsAt: r.k_at,
        as: r.patient_id === userId ? 'patient' : 'therapist',
        patientId: r.patient_id,
        therapistId: r.therapist_id,
        durationMinutes: r.duration_minutes,
        status: r.status,
        createdAt: r.created_at,
        cancelledAt: r.cancelled_at,
      }),
    ),
    // The clinical rule: text only for the notes the caller wrote (as the session's therapist).
    section(
      'sessionNotes',
      {
        select: sql`SELECT n.id AS k_id, ${t('n.created_at')} AS k_at, n.session_id,
                           CASE WHEN n.author_id = ${me} THEN n.key_id END AS key_id,
                           CASE WHEN n.author_id = ${me} THEN n.ciphertext END AS ciphertext,
                           n.patient_key, s.patient_id, k.key_id AS data_key_id, k.wrapped_key AS data_key
                    FROM therapy_sessions s JOIN session_notes n ON n.session_id = s.id
                    LEFT JOIN user_data_keys k ON k.user_id = s.patient_id AND n.patient_key AND n.author_id = ${me}
                    WHERE (s.patient_id = ${me} OR s.therapist_id = ${me})`,
        row: noteRow,
        ...byTime('n.created_at', 'n.id'),
      },
      (r) => ({
        id: r.k_id,
        sessionId: r.session_id,
        createdAt: r.k_at,
        ...(r.ciphertext
          ? {
              // New notes are sealed with the patient's data key (wrapped by the notes key).
              text: r.patient_key
                ? openWithDataKey(
                    cipher.unwrapDataKey(r.patient_id, {
                      keyId: String(r.data_key_id),
                      ciphertext: String(r.data_key),
                    }),
                    r.ciphertext,
                    r.session_id,
                  )
                : cipher.open({ keyId: String(r.key_id), ciphertext: r.ciphertext }, r.session_id),
            }
          : { text: null, withheld: 'kept by the therapist as their clinical record' }),
      }),
    ),
    section(
      'crisisAlerts',
      {
        select: sql`SELECT id AS k_id, ${t('created_at')} AS k_at, assessment_id, status,
                           ${t('acknowledged_at')} AS acknowledged_at
                    FROM crisis_alerts WHERE user_id = ${me}`,
        row: crisisRow,
        ...byTime('created_at', 'id'),
      },
      (r) => ({
        id: r.k_id,
        createdAt: r.k_at,
        assessmentId: r.assessment_id,
        status: r.status,
        acknowledgedAt: r.acknowledged_at,
      }),
    ),
    section(
      'supportTickets',
      {
        select: sql`SELECT id AS k_id, ${t('created_at')} AS k_at, subject, priority, status,
                           ${t('updated_at')} AS updated_at
                    FROM support_tickets WHERE user_id = ${me}`,
        row: ticketRow,
        ...byTime('created_at', 'id'),
      },
      (r) => ({
        id: r.k_id,
        createdAt: r.k_at,
        subject: r.subject,
        priority: r.priority,
        status: r.status,
        updatedAt: r.updated_at,
      }),
    ),
    section(
      'supportMessages',
      {
        select: sql`SELECT m.id AS k_id, ${t('m.created_at')} AS k_at, m.ticket_id, m.from_staff, m.body
                    FROM support_tickets tk JOIN support_messages m ON m.ticket_id = tk.id
                    WHERE tk.user_id = ${me}`,
        row: messageRow,
        ...byTime('m.created_at', 'm.id'),
      },
      (r) => ({
        id: r.k_id,
        ticketId: r.ticket_id,
        createdAt: r.k_at,
        fromStaff: r.from_staff,
        body: r.body,
      }),
    ),
    // Metadata only: a key's hash is never exported.
    section(
      'apiKeys',
      {
        select: sql`SELECT id AS k_id, ${t('created_at')} AS k_at, name, prefix, scopes,
                           ${t('expires_at')} AS expires_at, ${t('last_used_at')} AS last_used_at,
                           ${t('revoked_at')} AS revoked_at
                    FROM api_keys WHERE user_id = ${me}`,
        row: apiKeyRow,
        ...byTime('created_at', 'id'),
      },
      (r) => ({
        id: r.k_id,
        createdAt: r.k_at,
        name: r.name,
        prefix: r.prefix,
        scopes: r.scopes,
        expiresAt: r.expires_at,
        lastUsedAt: r.last_used_at,
        revokedAt: r.revoked_at,
      }),
    ),
    // What was done by the user or to them (logins, plan and role changes, exports, ...).
    // Another person's id (a staff member acting on the account) is not disclosed.
    section(
      'auditEntries',
      {
        select: sql`SELECT id::text AS k_id, ${t('at')} AS k_at, action, actor_id, ip, details
                    FROM audit_log WHERE (actor_id = ${me} OR target_id = ${me})`,
        row: auditRow,
        keys: [sql`id`],
        keyOf: (r) => sql`(${r.k_id}::bigint)`,
      },
      (r) => ({
        id: Number(r.k_id),
        at: r.k_at,
        action: r.action,
        by: r.actor_id === userId ? 'you' : r.actor_id === null ? 'system' : 'staff',
        ip: r.actor_id === userId ? r.ip : null,
        details: r.details,
      }),
    ),
  ];
}

const headRow = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  phone: text,
  language: text,
  status: z.string(),
  role: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  last_login_at: text,
  plan: text,
  subscription_status: text,
  current_period_end: text,
  subscribed_at: text,
  subscription_updated_at: text,
});

/**
 * The audit entries, profile and subscription: one statement. Besides the export's own entry,
 * one access entry per patient whose sessions the caller had as therapist (the export lists
 * them, and holds the text of the caller's notes about them), with how many of each.
 */
async function exportHead(db: Executor, reader: Reader) {
  const userId = reader.id;
  const [row] = await queryRows(
    db,
    headRow,
    sql`WITH audit AS (
          ${auditInsert({ actorId: userId, action: 'export.mine', targetId: userId, ip: reader.ip, requestId: reader.requestId })}
        ), patients AS (
          ${accessAudit(
            'export.mine',
            reader,
            sql`SELECT s.patient_id AS subject,
                       jsonb_build_object('sessions', count(*), 'notes',
                         sum((SELECT count(*) FROM session_notes n WHERE n.session_id = s.id AND n.author_id = ${userId}::uuid))) AS details
                FROM therapy_sessions s WHERE s.therapist_id = ${userId}::uuid GROUP BY s.patient_id`,
            true,
          )}
        )
        SELECT u.id, u.email, u.name, u.phone, u.language, u.status, r.name AS role,
               ${t('u.created_at')} AS created_at, ${t('u.updated_at')} AS updated_at,
               ${t('u.last_login_at')} AS last_login_at,
               p.code AS plan, s.status AS subscription_status,
               ${t('s.current_period_end')} AS current_period_end,
               ${t('s.created_at')} AS subscribed_at, ${t('s.updated_at')} AS subscription_updated_at
        FROM users u JOIN roles r ON r.id = u.role_id
        LEFT JOIN subscriptions s ON s.user_id = u.id LEFT JOIN plans p ON p.id = s.plan_id
        WHERE u.id = ${userId} AND u.deleted_at IS NULL`,
  );
  return row;
}

/**
 * The document, in chunks. Nothing happens until the first chunk is asked for; then the
 * hourly quota is taken and the export is audited before any data leaves.
 */
export async function* exportMine(deps: ExportDeps, reader: Reader): AsyncGenerator<string> {
  const userId = reader.id;
  await deps.quota.consume(userId);
  const head = await exportHead(deps.db, reader);
  if (!head) throw notFound('User');
  const intro: Record<string, unknown> = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    generatedAt: new Date().toISOString(),
    profile: {
      id: head.id,
      email: head.email,
      name: head.name,
      phone: head.phone,
      language: head.language,
      status: head.status,
      role: head.role,
      createdAt: head.created_at,
      updatedAt: head.updated_at,
      lastLoginAt: head.last_login_at,
    },
    // The current subscription; its history is in auditEntries (plan changes, payments).
    subscription: head.plan
      ? {
          plan: head.plan,
          status: head.subscription_status,
          currentPeriodEnd: head.current_period_end,
          createdAt: head.subscribed_at,
          updatedAt: head.subscription_updated_at,
        }
      : null,
  };
  yield JSON.stringify(intro).slice(0, -1);
  for (const s of sections(userId, deps.notes)) {
    yield ',';
    yield* s(deps.db);
  }
  yield '}';
}
