// crisis.*: alerts raised by PHQ-9 item 9 (see assessments.ts) for the clinical duty team
// (docs/api.md: anyone with `crisis.manage` sees every alert).
import { and, asc, desc, eq, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { assessments, crisisAlerts, users } from '../../db/schema/index.ts';
import type { CrisisListInput } from '../../shared/inputs/crisis.ts';
import { recordAudit } from '../audit.ts';
import { afterTimeCursor, decodeCursor, exactTimestamp, timePage } from '../keyset.ts';
import { conflict, notFound } from './errors.ts';

/** Newest (or oldest) first, with the patient's contact details and the screening. One SELECT. */
export async function listCrisisAlerts(db: Db, input: CrisisListInput) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const where: SQL[] = [];
  if (input.status) where.push(eq(crisisAlerts.status, input.status));
  const dir = input.order === 'oldest' ? 'asc' : 'desc';
  if (after) where.push(afterTimeCursor(crisisAlerts.createdAt, crisisAlerts.id, after, dir));
  const rows = await db
    .select({
      id: crisisAlerts.id,
      status: crisisAlerts.status,
      createdAt: crisisAlerts.createdAt,
      acknowledgedBy: crisisAlerts.acknowledgedBy,
      acknowledgedAt: crisisAlerts.acknowledgedAt,
      // Crisis-level screenings this alert stands for, and the latest one's id and time.
      submissions: crisisAlerts.submissions,
      lastAssessmentId: crisisAlerts.lastAssessmentId,
      lastSubmittedAt: crisisAlerts.lastSubmittedAt,
      patient: { id: users.id, name: users.name, email: users.email, phone: users.phone },
      assessment: {
        id: assessments.id,
        instrument: assessments.instrument,
        score: assessments.score,
        severity: assessments.severity,
      },
      key: exactTimestamp(crisisAlerts.createdAt),
    })
    .from(crisisAlerts)
    .innerJoin(users, eq(users.id, crisisAlerts.userId))
    .innerJoin(assessments, eq(assessments.id, crisisAlerts.assessmentId))
    .where(and(...where))
    .orderBy(
      ...(dir === 'asc'
        ? [asc(crisisAlerts.createdAt), asc(crisisAlerts.id)]
        : [desc(crisisAlerts.createdAt), desc(crisisAlerts.id)]),
    )
    .limit(input.limit + 1);
  return timePage(rows, input.limit);
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
