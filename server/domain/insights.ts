// insights.*: the Premium dashboard over the caller's own mood log and screenings. Each is
// ONE statement on the (user_id, created_at desc, id desc) indexes of mood_entries and
// assessments, so its cost follows the caller's own rows, not the table. Days are UTC days,
// weeks start on Monday (ISO).
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Executor, queryRows } from '../../db/client.ts';
import type { trajectoryInput, windowInput } from '../../shared/inputs/insights.ts';

type Window = z.infer<typeof windowInput>;
const since = (days: number) => sql`now() - make_interval(days => ${days}::int)`;

const weekRow = z.object({ week: z.string(), average: z.number(), entries: z.number() });
const streakRow = z.object({
  current: z.number(),
  longest: z.number(),
  days_logged: z.number(),
  last_day: z.string().nullable(),
});
/** The first row (tag null) is the whole window's. */
const tagRow = z.object({ tag: z.string().nullable(), entries: z.number(), average: z.number().nullable() });
const pointRow = z.object({
  id: z.string(),
  instrument: z.enum(['PHQ9', 'GAD7']),
  score: z.number(),
  severity: z.string(),
  at: z.string(),
  previous_severity: z.string().nullable(),
  previous_score: z.number().nullable(),
});

/** Weekly averages of the window, oldest week first. */
export async function moodTrend(db: Executor, userId: string, { days }: Window) {
  const weeks = await queryRows(
    db,
    weekRow,
    sql`SELECT to_char(date_trunc('week', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS week,
               round(avg(score), 2)::float8 AS average, count(*)::int AS entries
        FROM mood_entries WHERE user_id = ${userId} AND created_at >= ${since(days)}
        GROUP BY 1 ORDER BY 1`,
  );
  const entries = weeks.reduce((n, w) => n + w.entries, 0);
  const total = weeks.reduce((sum, w) => sum + w.average * w.entries, 0);
  return {
    days,
    entries,
    average: entries === 0 ? null : Math.round((total / entries) * 100) / 100,
    weeks: weeks.map((w) => ({ weekStart: w.week, average: w.average, entries: w.entries })),
  };
}

/**
 * Days in a row with at least one mood entry: the current streak (a run that reaches today
 * or yesterday, so it is still alive) and the longest ever.
 */
export async function moodStreaks(db: Executor, userId: string) {
  const [row] = await queryRows(
    db,
    streakRow,
    sql`WITH d AS (
          SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS day FROM mood_entries WHERE user_id = ${userId}
        ), runs AS (
          SELECT max(day) AS last, count(*)::int AS len
          FROM (SELECT day, day - (row_number() OVER (ORDER BY day))::int AS grp FROM d) g GROUP BY grp
        )
        SELECT coalesce(max(len), 0)::int AS longest,
               coalesce(sum(len), 0)::int AS days_logged,
               to_char(max(last), 'YYYY-MM-DD') AS last_day,
               coalesce(max(len) FILTER (WHERE last >= (now() AT TIME ZONE 'UTC')::date - 1), 0)::int AS current
        FROM runs`,
  );
  return {
    current: row?.current ?? 0,
    longest: row?.longest ?? 0,
    daysLogged: row?.days_logged ?? 0,
    lastDay: row?.last_day ?? null,
  };
}

/** Per tag: entries and average mood, against the window's overall average (top 50 tags). */
export async function tagsVsMood(db: Executor, userId: string, { days }: Window) {
  const rows = await queryRows(
    db,
    tagRow,
    sql`WITH w AS (SELECT score, tags FROM mood_entries WHERE user_id = ${userId} AND created_at >= ${since(days)})
        (SELECT NULL AS tag, count(*)::int AS entries, round(avg(score), 2)::float8 AS average FROM w)
        UNION ALL
        (SELECT tag, count(*)::int, round(avg(score), 2)::float8 FROM w, unnest(w.tags) AS tag
         GROUP BY tag ORDER BY 2 DESC, tag LIMIT 50)`,
  );
  const [overall, ...tags] = rows;
  const average = overall?.average ?? null;
  return {
    days,
    entries: overall?.entries ?? 0,
    average,
    tags: tags.map((t) => ({
      tag: t.tag!,
      entries: t.entries,
      average: t.average!,
      difference: average === null ? 0 : Math.round((t.average! - average) * 100) / 100,
    })),
  };
}

/** Screening results of the window, oldest first (at most 500), each with its band change. */
export async function assessmentTrajectory(
  db: Executor,
  userId: string,
  input: z.infer<typeof trajectoryInput>,
) {
  const rows = await queryRows(
    db,
    pointRow,
    sql`SELECT id, instrument, score, severity,
               to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
               lag(severity) OVER w AS previous_severity, lag(score) OVER w AS previous_score
        FROM assessments
        WHERE user_id = ${userId} AND created_at >= ${since(input.days)}
          ${input.instrument ? sql`AND instrument = ${input.instrument}` : sql``}
        WINDOW w AS (PARTITION BY instrument ORDER BY created_at, id)
        ORDER BY created_at, id LIMIT 500`,
  );
  return {
    days: input.days,
    points: rows.map((r) => {
      const changed = r.previous_severity !== null && r.previous_severity !== r.severity;
      return {
        id: r.id,
        instrument: r.instrument,
        score: r.score,
        severity: r.severity,
        at: new Date(r.at),
        /** The band moved since this instrument's previous result in the window. */
        bandChange: changed
          ? {
              from: r.previous_severity!,
              to: r.severity,
              direction: r.score > r.previous_score! ? 'worse' : 'better',
            }
          : null,
      };
    }),
  };
}
