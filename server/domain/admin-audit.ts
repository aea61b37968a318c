// admin.audit.list: the audit log, newest first, filtered by actor or action (indexes on
// (actor_id, id) and (action, id)); keyset pagination on the identity id.
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { auditLog, users } from '../../db/schema/index.ts';
import type { AuditListInput } from '../../shared/inputs/admin.ts';
import { decodeCursor, toPage } from '../keyset.ts';

/** One SELECT, with the actor's email when the actor is a user. */
export async function listAudit(db: Db, input: AuditListInput) {
  const after = decodeCursor(input.cursor, ['integer']);
  const where: SQL[] = [];
  if (input.actorId) where.push(eq(auditLog.actorId, input.actorId));
  if (input.action) where.push(eq(auditLog.action, input.action));
  if (after) where.push(lt(auditLog.id, after[0]));
  const rows = await db
    .select({
      id: auditLog.id,
      at: auditLog.at,
      actorId: auditLog.actorId,
      actorEmail: users.email,
      action: auditLog.action,
      targetId: auditLog.targetId,
      ip: auditLog.ip,
      details: auditLog.details,
    })
    .from(auditLog)
    .leftJoin(users, eq(users.id, auditLog.actorId))
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
