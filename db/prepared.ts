// Prepared statements for hot queries: Drizzle builds a query's SQL once, at prepare time,
// instead of on every call (query building costs more CPU than the round trip for a
// small query). A prepared statement belongs to one database handle, so each is made
// lazily per handle and kept for its lifetime; on the routing handle of read-only calls
// (db/replicas.ts) that is the database chosen for this call.
import type { Db } from './client.ts';
import { CURRENT_DB } from './replicas.ts';

const byDb = new WeakMap<Db, Map<string, unknown>>();

/** The statement `name` prepared on `db` by `build`, made on first use. */
export function prepared<T>(handle: Db, name: string, build: (db: Db) => T): T {
  const db = ((handle as unknown as Record<symbol, Db | undefined>)[CURRENT_DB] ?? handle) as Db;
  let statements = byDb.get(db);
  if (!statements) {
    statements = new Map();
    byDb.set(db, statements);
  }
  let statement = statements.get(name) as T | undefined;
  if (statement === undefined) {
    statement = build(db);
    statements.set(name, statement);
  }
  return statement;
}
