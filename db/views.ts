// Materialized-view operations shared by the refresh job, admin.views.* and scripts.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Database, type Executor, queryRows } from './client.ts';
import { num } from './row.ts';
import { MATERIALIZED_VIEWS } from './schema/views.ts';

/** A row of refresh_materialized_views() / refresh_materialized_view(name), read as a ViewRefresh. */
export const viewRefreshRow = z
  .object({ view_name: z.string(), duration_ms: num, row_count: num })
  .transform((r) => ({ name: r.view_name, ms: r.duration_ms, rows: r.row_count }));
export type ViewRefresh = z.output<typeof viewRefreshRow>;

/** Refreshes the materialized views CONCURRENTLY (one statement); returns name, ms and rows per view. */
export async function refreshViews(db: Executor): Promise<ViewRefresh[]> {
  return queryRows(
    db,
    viewRefreshRow,
    sql`SELECT view_name, duration_ms, row_count FROM refresh_materialized_views()`,
  );
}

/**
 * Refreshes the materialized views at once, each CONCURRENTLY on a connection of its own (they are
 * independent), each in a transaction with a statement timeout long enough for 1M+ users.
 * A background job: it uses the driver's pool directly, outside the request pool gate, and
 * with a small pool the refreshes simply queue. PGlite has one connection: one after another.
 */
export async function refreshViewsInParallel(database: Database): Promise<ViewRefresh[]> {
  const pg = database.pg;
  if (!pg) return refreshViews(database.db);
  const results = await Promise.all(
    MATERIALIZED_VIEWS.map((name) =>
      pg.begin(async (tx) => {
        await tx`SET LOCAL statement_timeout = '15min'`;
        return tx`SELECT view_name, duration_ms, row_count FROM refresh_materialized_view(${name})`;
      }),
    ),
  );
  return results.flat().map((r) => viewRefreshRow.parse(r));
}

const staleRow = z.object({ stale: z.boolean() });
const matviewRow = z.object({ matviewname: z.string(), has_unique: z.boolean() });

/** True when a base table changed since the last refresh (or a view was never refreshed). */
export async function viewsStale(db: Executor): Promise<boolean> {
  const [row] = await queryRows(db, staleRow, sql`SELECT materialized_views_stale() AS stale`);
  return row?.stale ?? true;
}

/**
 * Start-up check: each view must exist with a unique index (REFRESH CONCURRENTLY needs
 * one). Throws a clear error naming what is missing, e.g. when migrations were not run.
 */
export async function assertViewsReady(db: Executor): Promise<void> {
  const rows = await queryRows(
    db,
    matviewRow,
    sql`SELECT m.matviewname,
               EXISTS (SELECT 1 FROM pg_index i
                       WHERE i.indrelid = format('%I.%I', m.schemaname, m.matviewname)::regclass
                         AND i.indisunique AND i.indpred IS NULL) AS has_unique
        FROM pg_matviews m WHERE m.schemaname = current_schema()`,
  );
  const found = new Map(rows.map((r) => [r.matviewname, r.has_unique]));
  for (const name of MATERIALIZED_VIEWS) {
    if (!found.has(name)) throw new Error(`materialized view ${name} is missing: run npm run db:migrate`);
    if (!found.get(name))
      throw new Error(`materialized view ${name} has no unique index: REFRESH CONCURRENTLY would fail`);
  }
}
