// The audit log: an append-only record of auth events, every admin action and (issue 15)
// every read of a person's health data by someone else. This module is the only place that
// spells how an audit row is written: recordAudit runs one INSERT of its own, auditInsert
// gives the same INSERT as a SQL fragment for a data-modifying CTE, so the entry is part
// of the statement that does what it records (no extra query, no action without entry).
import { SQL, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.ts';
import type { AccessAction, AuditAction } from '../shared/audit.ts';

/** A value, or SQL over the rows of the source (`auditInsert(entry, from)`). */
type Value<T> = T | SQL;

export interface AuditEntry {
  actorId: Value<string | null>;
  /** One of the actions admin.audit.list exports (shared/audit.ts). */
  action: Value<AuditAction>;
  targetId?: Value<string | null>;
  ip?: Value<string | null>;
  /** Never put tokens, passwords, notes or answers here. */
  details?: Value<Record<string, unknown> | null>;
  /** The request that did it (audited reads carry it). */
  requestId?: Value<string | null>;
}

const param = <T>(value: Value<T> | undefined, type: SQL, encode: (v: T) => unknown = (v) => v): SQL =>
  value instanceof SQL ? value : value == null ? sql`NULL::${type}` : sql`${encode(value)}::${type}`;

/**
 * `INSERT INTO audit_log (...) VALUES (...)` for one entry or, given `from` (e.g. sql`u`, a
 * CTE that inserted a user), `INSERT INTO audit_log (...) SELECT ... FROM <from>`: one entry
 * per row of `from` (none when it is empty), whose SQL values may name its columns. Use it as
 * a CTE (`audit AS (${auditInsert(...)})`) or as the statement's last part.
 */
export function auditInsert(entry: AuditEntry, from?: SQL): SQL {
  const values = sql.join(
    [
      param(entry.actorId, sql.raw('uuid')),
      param(entry.action, sql.raw('text')),
      param(entry.targetId, sql.raw('uuid')),
      param(entry.ip, sql.raw('text')),
      param(entry.details, sql.raw('jsonb'), (d) => JSON.stringify(d)),
      param(entry.requestId, sql.raw('text')),
    ],
    sql`, `,
  );
  return sql`INSERT INTO audit_log (actor_id, action, target_id, ip, details, request_id) ${
    from ? sql`SELECT ${values} FROM ${from}` : sql`VALUES (${values})`
  }`;
}

/** Who reads, from where: what an audited read records besides the person and the action. */
export interface Reader {
  id: string;
  ip: string;
  requestId: string;
}

/**
 * The entries of an audited read (shared/audit.ts ACCESS_ACTIONS): one per person in
 * `subjects`, a source whose column `subject` is the person shown (and `details`, a jsonb,
 * when `withDetails`); the reader's own data is not an access by someone else. Use it as a
 * CTE of the statement that reads, so the read and its entries cannot come apart.
 */
export function accessAudit(action: AccessAction, reader: Reader, subjects: SQL, withDetails = false): SQL {
  return auditInsert(
    {
      actorId: reader.id,
      action,
      targetId: sql`s.subject`,
      ip: reader.ip,
      requestId: reader.requestId,
      details: withDetails ? sql`s.details` : null,
    },
    sql`(${subjects}) s WHERE s.subject IS DISTINCT FROM ${reader.id}::uuid`,
  );
}

/** One INSERT; pass a transaction to make it part of the action it records. */
export async function recordAudit(db: Executor, entry: AuditEntry): Promise<void> {
  await db.execute(auditInsert(entry));
}
