// crisis.*: alerts raised by PHQ-9 item 9 (see assessments.ts) for the clinical duty team
// (docs/api.md: anyone with `crisis.manage` sees every alert).
import { and, eq, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../../db/client.ts';
import { date } from '../../db/row.ts';
import { crisisAlerts } from '../../db/schema/index.ts';
import { CRISIS_STATUSES, type CrisisListInput } from '../../shared/inputs/crisis.ts';
import { accessAudit, type Reader, recordAudit } from '../audit.ts';
import { decodeCursor, exactTimestamp, timePage } from '../keyset.ts';
import { conflict, notFound } from './errors.ts';

const alertRow = z.object({
  id: z.string(),
  status: z.enum(CRISIS_STATUSES),
  created_at: date,
  acknowledged_by: z.string().nullable(),
  acknowledged_at: date.nullable(),
  acknowledged_by_name: z.string().nullable(),
  escalation_level: z.number(),
  submissions: z.number(),
  last_assessment_id: z.string().nullable(),
  last_submitted_at: date,
  patient_id: z.string(),
  patient_name: z.string(),
  patient_email: z.string(),
  patient_phone: z.string().nullable(),
  assessment_id: z.string(),
  instrument: z.enum(['PHQ9', 'GAD7']),
  score: z.number(),
  severity: z.string(),
  key: z.string(),
});

/**
 * crisis.list, an audited read: newest (or oldest) first, with the patient's contact details
 * and the screening. ONE statement: the page (limit + 1 rows, the extra one only says there is
 * a next page) and, for the rows shown, one access entry per patient with the alerts seen.
 */
export async function listCrisisAlerts(db: Db, reader: Reader, input: CrisisListInput) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const where: SQL[] = [sql`true`];
  if (input.status) where.push(sql`ca.status = ${input.status}`);
  const dir = input.order === 'oldest' ? sql`ASC` : sql`DESC`;
  if (after)
    where.push(
      sql`(ca.created_at, ca.id) ${input.order === 'oldest' ? sql`>` : sql`<`} (${after[0]}::timestamptz, ${after[1]}::uuid)`,
    );
  const rows = await queryRows(
    db,
    alertRow,
    sql`WITH page AS (
          SELECT ca.id, ca.status, ca.created_at, ca.acknowledged_by, ca.acknowledged_at,
                 ack.name AS acknowledged_by_name, ca.escalation_level::int AS escalation_level,
                 ca.submissions, ca.last_assessment_id, ca.last_submitted_at,
                 u.id AS patient_id, u.name AS patient_name, u.email AS patient_email, u.phone AS patient_phone,
                 a.id AS assessment_id, a.instrument, a.score, a.severity,
                 ${exactTimestamp(sql`ca.created_at`)} AS key
          FROM crisis_alerts ca
          JOIN users u ON u.id = ca.user_id
          JOIN assessments a ON a.id = ca.assessment_id AND a.created_at = ca.assessment_created_at
          LEFT JOIN users ack ON ack.id = ca.acknowledged_by
          WHERE ${sql.join(where, sql` AND `)}
          ORDER BY ca.created_at ${dir}, ca.id ${dir}
          LIMIT ${input.limit + 1}
        ), shown AS (
          SELECT patient_id, id FROM page ORDER BY created_at ${dir}, id ${dir} LIMIT ${input.limit}
        ), audit AS (
          ${accessAudit(
            'crisis.list',
            reader,
            sql`SELECT patient_id AS subject, jsonb_build_object('alertIds', jsonb_agg(id ORDER BY id)) AS details
                FROM shown GROUP BY patient_id`,
            true,
          )}
        )
        SELECT * FROM page ORDER BY created_at ${dir}, id ${dir}`,
  );
  return timePage(
    rows.map((r) => ({
      id: r.id,
      status: r.status,
      createdAt: r.created_at,
      acknowledgedBy: r.acknowledged_by,
      acknowledgedAt: r.acknowledged_at,
      /** Who acknowledged, by name (the staff member's; null while open). */
      acknowledgedByName: r.acknowledged_by_name,
      /** 0 none, 1 the admins were told, 2 told again (docs/api.md, on call and escalation). */
      escalationLevel: r.escalation_level,
      // Crisis-level screenings this alert stands for, and the latest one's id and time.
      submissions: r.submissions,
      lastAssessmentId: r.last_assessment_id,
      lastSubmittedAt: r.last_submitted_at,
      patient: { id: r.patient_id, name: r.patient_name, email: r.patient_email, phone: r.patient_phone },
      assessment: { id: r.assessment_id, instrument: r.instrument, score: r.score, severity: r.severity },
      key: r.key,
    })),
    input.limit,
  );
}

/**
 * Marks an open alert acknowledged by the caller, and audits it in the same transaction:
 * two statements (the UPDATE, then the audit INSERT, or a SELECT saying why nothing changed).
 */
export async function acknowledgeCrisisAlert(db: Db, actorId: string, alertId: string, ip: string) {
  return db.transaction(async (tx) => {
    const [alert] = await tx
      .update(crisisAlerts)
      .set({ status: 'acknowledged', acknowledgedBy: actorId, acknowledgedAt: sql`now()` })
      .where(and(eq(crisisAlerts.id, alertId), eq(crisisAlerts.status, 'open')))
      .returning({
        id: crisisAlerts.id,
        userId: crisisAlerts.userId,
        status: crisisAlerts.status,
        acknowledgedBy: crisisAlerts.acknowledgedBy,
        acknowledgedAt: crisisAlerts.acknowledgedAt,
        createdAt: crisisAlerts.createdAt,
      });
    if (!alert) {
      const [existing] = await tx
        .select({ id: crisisAlerts.id })
        .from(crisisAlerts)
        .where(eq(crisisAlerts.id, alertId));
      if (!existing) throw notFound('Crisis alert');
      throw conflict('The alert is already acknowledged');
    }
    await recordAudit(tx, {
      actorId,
      action: 'crisis.acknowledge',
      targetId: alert.userId,
      ip,
      details: { alertId: alert.id },
    });
    return alert;
  });
}
