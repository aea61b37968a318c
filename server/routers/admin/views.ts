// admin.views.*: refresh the materialized views now, and when each was last refreshed.
import { sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../../db/client.ts';
import { MATERIALIZED_VIEWS } from '../../../db/schema/index.ts';
import { refreshViews } from '../../../db/views.ts';
import { recordAudit } from '../../audit.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

/**
 * Per view: last refresh time, its duration and row count (null when never refreshed), and
 * whether a base table changed since (the change marker of migrations/0002). One SELECT.
 */
export async function viewStatus(db: Db) {
  const rows = await queryRows<{
    view_name: string;
    last_refreshed_at: string;
    duration_ms: number;
    row_count: string | number;
    stale: boolean;
  }>(
    db,
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
      lastRefreshedAt: r ? new Date(r.last_refreshed_at) : null,
      ms: r ? Number(r.duration_ms) : null,
      rows: r ? Number(r.row_count) : null,
      stale: r ? r.stale : true,
    };
  });
}

export const adminViewsRouter = router({
  /** Two statements: the refresh (one function call) and its audit entry. */
  refresh: protectedProcedure.meta({ permission: 'views.refresh' }).mutation(async ({ ctx }) => {
    const views = await refreshViews(ctx.deps.db);
    await recordAudit(ctx.deps.db, {
      actorId: ctx.auth.sub,
      action: 'admin.views.refresh',
      ip: ctx.req.ip,
      details: { views: views.map((v) => ({ name: v.name, ms: Math.round(v.ms), rows: v.rows })) },
    });
    return views;
  }),

  // The primary: the status is written there by each refresh, and must agree with it.
  status: protectedProcedure
    .meta({ permission: 'views.refresh' })
    .query(({ ctx }) => viewStatus(ctx.deps.db)),
});
