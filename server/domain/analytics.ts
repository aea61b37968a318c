// analytics.overview: the admin dashboard's headline numbers. User counts come from
// mv_user_counts, a few dozen precomputed rows (as fresh as the last view refresh, reported
// in viewsRefreshedAt); activity counts come from the domain tables through their indexes.
// One statement of scalar subqueries.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, queryRows } from '../../db/client.ts';
import { date } from '../../db/row.ts';

/** A jsonb object of counts (null: none); text JSON is read too. */
const counts = z.preprocess(
  (v) => (typeof v === 'string' ? JSON.parse(v) : (v ?? {})),
  z.record(z.string(), z.number()),
);

const overviewRow = z.object({
  by_role: counts,
  by_plan: counts,
  by_status: counts,
  active_subscriptions: z.number(),
  assessments_30d: z.number(),
  crisis_alerts_30d: z.number(),
  open_crisis_alerts: z.number(),
  ack_p50: z.number().nullable(),
  ack_p95: z.number().nullable(),
  sessions_booked: z.number(),
  upcoming_sessions: z.number(),
  views_refreshed_at: date.nullable(),
});

/** A jsonb object of user counts per value of one column of mv_user_counts. */
const countsBy = (column: 'role' | 'plan' | 'status') =>
  sql.raw(`(SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
            FROM (SELECT ${column} AS k, sum(users)::int AS n FROM mv_user_counts GROUP BY 1) c)`);

export async function analyticsOverview(db: Db) {
  const [row] = await queryRows(
    db,
    overviewRow,
    sql`SELECT
      ${countsBy('role')} AS by_role,
      ${countsBy('plan')} AS by_plan,
      ${countsBy('status')} AS by_status,
      -- Paid plans only: every account has an active row on the free plan from registration.
      (SELECT coalesce(sum(users), 0)::int FROM mv_user_counts
        WHERE subscription_status = 'active' AND plan <> 'free') AS active_subscriptions,
      (SELECT count(*)::int FROM assessments WHERE created_at > now() - interval '30 days') AS assessments_30d,
      (SELECT count(*)::int FROM crisis_alerts WHERE created_at > now() - interval '30 days') AS crisis_alerts_30d,
      (SELECT count(*)::int FROM crisis_alerts WHERE status = 'open') AS open_crisis_alerts,
      ack.p50 AS ack_p50, ack.p95 AS ack_p95,
      (SELECT count(*)::int FROM therapy_sessions WHERE status = 'booked') AS sessions_booked,
      (SELECT count(*)::int FROM therapy_sessions WHERE status = 'booked' AND starts_at > now())
        AS upcoming_sessions,
      (SELECT to_char(min(last_refreshed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
         FROM view_refresh_status) AS views_refreshed_at
    FROM (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::float8 AS p50,
                 percentile_cont(0.95) WITHIN GROUP (ORDER BY s)::float8 AS p95
          FROM (SELECT extract(epoch FROM acknowledged_at - created_at) AS s FROM crisis_alerts
                WHERE acknowledged_at IS NOT NULL AND created_at > now() - interval '30 days') t) ack`,
  );
  const r = row!;
  return {
    usersByRole: r.by_role,
    usersByPlan: r.by_plan,
    usersByStatus: r.by_status,
    activeSubscriptions: r.active_subscriptions,
    assessmentsLast30Days: r.assessments_30d,
    crisisAlertsLast30Days: r.crisis_alerts_30d,
    openCrisisAlerts: r.open_crisis_alerts,
    /**
     * Seconds from raising to acknowledging, over the alerts raised in the last 30 days and
     * acknowledged (median and 95th percentile); null when none was acknowledged.
     */
    crisisTimeToAcknowledgeSeconds: { median: r.ack_p50, p95: r.ack_p95 },
    sessionsBooked: r.sessions_booked,
    upcomingSessions: r.upcoming_sessions,
    /** When the user counts were computed (the oldest view refresh); null: never refreshed. */
    viewsRefreshedAt: r.views_refreshed_at,
  };
}

/**
 * analytics.activity: per UTC day of the last N days, assessments by severity band,
 * sessions booked and crisis alerts raised (the console's charts). One statement; every
 * day of the range is present, with zeros.
 */
export const SEVERITIES = ['minimal', 'mild', 'moderate', 'moderately severe', 'severe'] as const;
type Severity = (typeof SEVERITIES)[number];

const dayRow = z.object({
  day: z.string(),
  assessments: counts,
  bookings: z.number(),
  crisis_alerts: z.number(),
});

export async function analyticsActivity(db: Db, days: number) {
  const rows = await queryRows(
    db,
    dayRow,
    sql`WITH d AS (
          SELECT generate_series((now() AT TIME ZONE 'UTC')::date - (${days}::int - 1), (now() AT TIME ZONE 'UTC')::date, '1 day')::date AS day
        ), since AS (SELECT (min(day)::timestamp AT TIME ZONE 'UTC') AS t FROM d),
        a AS (
          SELECT day, jsonb_object_agg(severity, n) AS by_severity
          FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, severity, count(*)::int AS n FROM assessments
                WHERE created_at >= (SELECT t FROM since) GROUP BY 1, 2) x
          GROUP BY day
        ),
        b AS (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS n FROM therapy_sessions
              WHERE created_at >= (SELECT t FROM since) GROUP BY 1),
        c AS (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*)::int AS n FROM crisis_alerts
              WHERE created_at >= (SELECT t FROM since) GROUP BY 1)
        SELECT to_char(d.day, 'YYYY-MM-DD') AS day, a.by_severity AS assessments,
               coalesce(b.n, 0) AS bookings, coalesce(c.n, 0) AS crisis_alerts
        FROM d LEFT JOIN a USING (day) LEFT JOIN b USING (day) LEFT JOIN c USING (day)
        ORDER BY d.day`,
  );
  return {
    days: rows.map((r) => {
      return {
        day: r.day,
        assessments: Object.fromEntries(SEVERITIES.map((s) => [s, r.assessments[s] ?? 0])) as Record<
          Severity,
          number
        >,
        bookings: r.bookings,
        crisisAlerts: r.crisis_alerts,
      };
    }),
  };
}
