// The claims and admin views (tables kept current by triggers, migration 0029): the repair
// shared by the repair job, admin.views.* and scripts, and the start-up check.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Database, type Executor, queryRows } from './client.ts';
import { num } from './row.ts';
import { MATERIALIZED_VIEWS } from './schema/views.ts';

/**
 * A row of refresh_materialized_views() / refresh_materialized_view(name), read as a ViewRefresh:
 * `repaired` counts the rows the repair found different from the view's definition (0 when
 * the triggers kept up).
 */
export const viewRefreshRow = z
  .object({ view_name: z.string(), duration_ms: num, row_count: num, repaired: num })
  .transform((r) => ({ name: r.view_name, ms: r.duration_ms, rows: r.row_count, repaired: r.repaired }));
export type ViewRefresh = z.output<typeof viewRefreshRow>;

/**
 * Repairs the views (one statement): each compared with its definition, the rows that differ
 * put right; returns name, ms, rows and rows repaired per view. Readers are never blocked.
 */
export async function refreshViews(db: Executor): Promise<ViewRefresh[]> {
  return queryRows(
    db,
    viewRefreshRow,
    sql`SELECT view_name, duration_ms, row_count, repaired FROM refresh_materialized_views()`,
  );
}

/**
 * Repairs the views at once, each on a connection of its own (they are independent), each in
 * a transaction with a statement timeout long enough for 1M+ users.
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
        return tx`SELECT view_name, duration_ms, row_count, repaired FROM refresh_materialized_view(${name})`;
      }),
    ),
  );
  return results.flat().map((r) => viewRefreshRow.parse(r));
}

const staleRow = z.object({ stale: z.boolean() });
const maintainedRow = z.object({ name: z.string(), is_table: z.boolean(), triggers: z.number() });

/** True when a base table changed since the last repair (or a view was never repaired). */
export async function viewsStale(db: Executor): Promise<boolean> {
  const [row] = await queryRows(db, staleRow, sql`SELECT materialized_views_stale() AS stale`);
  return row?.stale ?? true;
}

/** The deferred triggers that keep the per-user views current (migration 0029). */
export const VIEW_SYNC_TRIGGERS = [
  'users_sync_views_insert',
  'users_sync_views_update',
  'users_sync_views_delete',
  'subscriptions_sync_views',
] as const;

/**
 * Start-up check: each view must exist as a table and the triggers that keep them current
 * must be in place. Throws a clear error naming what is missing, e.g. when migrations were
 * not run (or a view is still the materialized view of before migration 0029).
 */
export async function assertViewsReady(db: Executor): Promise<void> {
  const rows = await queryRows(
    db,
    maintainedRow,
    sql`SELECT v.name, c.relkind IS NOT DISTINCT FROM 'r' AS is_table,
               (SELECT count(*)::int FROM pg_trigger t
                WHERE t.tgname = ANY (${`{${VIEW_SYNC_TRIGGERS.join(',')}}`}::text[]) AND NOT t.tgisinternal
                  AND t.tgenabled <> 'D') AS triggers
        FROM unnest(${`{${MATERIALIZED_VIEWS.join(',')}}`}::text[]) AS v(name)
        LEFT JOIN pg_class c ON c.relname = v.name AND c.relnamespace = current_schema()::regnamespace`,
  );
  for (const r of rows) {
    if (!r.is_table) throw new Error(`view table ${r.name} is missing: run npm run db:migrate`);
    if (r.triggers < VIEW_SYNC_TRIGGERS.length)
      throw new Error(
        'the triggers that keep the views current are missing or disabled: run npm run db:migrate',
      );
  }
}
