// The audit log: an append-only record of auth events and every admin action.
import type { Executor } from '../db/client.ts';
import { auditLog } from '../db/schema/index.ts';
import type { AuditAction } from '../shared/audit.ts';

export interface AuditEntry {
  actorId: string | null;
  /** One of the actions admin.audit.list exports (shared/audit.ts). */
  action: AuditAction;
  targetId?: string | null;
  ip?: string | null;
  /** Never put tokens, passwords, notes or answers here. */
  details?: Record<string, unknown>;
}

/** One INSERT; pass a transaction to make it part of the action it records. */
export async function recordAudit(db: Executor, entry: AuditEntry): Promise<void> {
  await db.insert(auditLog).values({
    actorId: entry.actorId,
    action: entry.action,
    targetId: entry.targetId ?? null,
    ip: entry.ip ?? null,
    details: entry.details ?? null,
  });
}
