// admin.views.*: repair the views now (they are kept current by triggers; the repair compares
// each with its definition and puts right what differs), and when each was last repaired.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Database, type Db, type Executor, queryRows } from '../../db/client.ts';
import { date, num } from '../../db/row.ts';
import { MATERIALIZED_VIEWS } from '../../db/schema/index.ts';
import { type ViewRefresh, viewRefreshRow } from '../../db/views.ts';
import { auditInsert } from '../audit.ts';
import { viewRefreshJob, withJobLock } from '../jobs/index.ts';
import { conflict } from './errors.ts';

const statusRow = z.object({
  view_name: z.string(),
  last_refreshed_at: date,
  duration_ms: num,
  row_count: num,
  stale: z.boolean(),
});

/**
 * Per view: last repair time, its duration and row count (null when never repaired), and
 * whether a base table changed since (the change marker of migrations/0002: the rows are
 * current either way, `stale` says a repair has not compared them since). One SELECT.
 */
export async function viewStatus(db: Db) {
  const rows = await queryRows(
    db,
    statusRow,
    sql`SELECT view_name, to_char(last_refreshed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                 AS last_refreshed_at,
               duration_ms, row_count, change_seq < (SELECT last_value FROM view_change_seq) AS stale
        FROM view_refresh_status`,
  );
  const byName = new Map(rows.map((r) => [r.view_name, r]));
  return MATERIALIZED_VIEWS.map((name) => {
    const r = byName.get(name);
    return {
      name,
      lastRefreshedAt: r ? r.last_refreshed_at : null,
      ms: r ? r.duration_ms : null,
      rows: r ? r.row_count : null,
      stale: r ? r.stale : true,
    };
  });
}

/**
 * Repairs the views now and records who asked, in one statement (the audit entry is a
 * data-modifying CTE over the repair's result).
 */
async function refreshAudited(tx: Executor, actorId: string, ip: string): Promise<ViewRefresh[]> {
  return queryRows(
    tx,
    viewRefreshRow,
    sql`WITH r AS (SELECT view_name, duration_ms, row_count, repaired FROM refresh_materialized_views()),
             a AS (${auditInsert(
               {
                 actorId,
                 action: 'admin.views.refresh',
                 ip,
                 details: sql`jsonb_build_object('views', jsonb_agg(jsonb_build_object(
                            'name', view_name, 'ms', round(duration_ms::numeric), 'rows', row_count,
                            'repaired', repaired)))`,
               },
               sql`r`,
             )})
        SELECT view_name, duration_ms, row_count, repaired FROM r`,
  );
}

/**
 * Under the refresh job's advisory lock (so it never overlaps the scheduled refresh on any
 * instance) and its longer statement timeout: two statements, the lock and the refresh
 * with its audit entry (one on PGlite, which has no lock to take).
 */
export async function refreshViews(database: Database, actorId: string, ip: string): Promise<ViewRefresh[]> {
  const res = await withJobLock(database, viewRefreshJob.lockId, (tx) => refreshAudited(tx, actorId, ip));
  if (!res.locked) throw conflict('A refresh of the views is already running; try again shortly');
  return res.value;
}
