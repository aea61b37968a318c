// admin.audit.list: the audit log, newest first, filtered by actor, target (the data subject
// of an audited read), action, audited reads only, or time
// (indexes on (actor_id, id), (target_id, id), (action, id) and at); keyset pagination on
// the identity id.
import { and, desc, eq, gte, inArray, lt, lte, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '../../db/client.ts';
import { auditLog, users } from '../../db/schema/index.ts';
import { ACCESS_ACTIONS } from '../../shared/audit.ts';
import type { AuditListInput } from '../../shared/inputs/admin.ts';
import { decodeCursor, toPage } from '../keyset.ts';

const targets = alias(users, 'target');

/** One SELECT, with the actor's and the target's emails. */
export async function listAudit(db: Db, input: AuditListInput) {
  const after = decodeCursor(input.cursor, ['integer']);
  const where: SQL[] = [];
  if (input.actorId) where.push(eq(auditLog.actorId, input.actorId));
  if (input.targetId) where.push(eq(auditLog.targetId, input.targetId));
  if (input.action) where.push(eq(auditLog.action, input.action));
  if (input.reads) where.push(inArray(auditLog.action, Object.keys(ACCESS_ACTIONS)));
  if (input.from) where.push(gte(auditLog.at, input.from));
  if (input.to) where.push(lte(auditLog.at, input.to));
  if (after) where.push(lt(auditLog.id, after[0]));
  const rows = await db
    .select({
      id: auditLog.id,
      at: auditLog.at,
      actorId: auditLog.actorId,
      actorEmail: users.email,
      action: auditLog.action,
      targetId: auditLog.targetId,
      targetEmail: targets.email,
      ip: auditLog.ip,
      requestId: auditLog.requestId,
      details: auditLog.details,
    })
    .from(auditLog)
    .leftJoin(users, eq(users.id, auditLog.actorId))
    .leftJoin(targets, eq(targets.id, auditLog.targetId))
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(input.limit + 1);
  return toPage(
    rows,
    input.limit,
    (r) => [r.id],
    (r) => r,
  );
}
