// reports.*: series over the caller's own data for a date range, as JSON or CSV, streamed
// (server/domain/documents.ts). Each report is audited when its first chunk is produced.
// Statements: 1 (audit) + floor(n / 500) + 1 for n rows.
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Executor } from '../../db/client.ts';
import type { assessmentReportInput, reportInput } from '../../shared/inputs/reports.ts';
import { recordAudit } from '../audit.ts';
import { exactTimestamp } from '../keyset.ts';
import type { Quotas } from '../limits/index.ts';
import { csvRows, jsonArray, type PagedQuery } from './documents.ts';

export type ReportKind = 'mood' | 'assessments' | 'sessions';
/** Rows carry their key (k_id, k_at: an exact timestamp) and are ordered by it. */
const keyed = z.object({ k_id: z.string(), k_at: z.string() });
const keyOf = (r: z.output<typeof keyed>) => sql`(${r.k_at}::timestamptz, ${r.k_id}::uuid)`;

interface Report {
  columns: string[];
  csv: (db: Executor) => AsyncGenerator<string>;
  /** `"rows":[…]`, each row an array of the columns' fields. */
  json: (db: Executor) => AsyncGenerator<string>;
}
function pagedReport<Row>(
  columns: string[],
  query: PagedQuery<Row>,
  fields: (row: Row) => unknown[],
): Report {
  return {
    columns,
    csv: (db) => csvRows(db, columns, query, fields),
    json: (db) => jsonArray(db, 'rows', query, fields),
  };
}

const moodRow = keyed.extend({ score: z.number(), tags: z.array(z.string()) });
function moodReport(userId: string, from: Date, to: Date): Report {
  return pagedReport(
    ['createdAt', 'score', 'tags'],
    {
      select: sql`SELECT id AS k_id, ${exactTimestamp(sql`created_at`)} AS k_at, score, tags FROM mood_entries
                  WHERE user_id = ${userId} AND created_at >= ${from.toISOString()}::timestamptz
                    AND created_at <= ${to.toISOString()}::timestamptz`,
      row: moodRow,
      keys: [sql`created_at`, sql`id`],
      keyOf,
    },
    (r) => [r.k_at, r.score, r.tags],
  );
}

const assessmentRow = keyed.extend({ instrument: z.string(), score: z.number(), severity: z.string() });
function assessmentReport(userId: string, from: Date, to: Date, instrument: string | undefined): Report {
  return pagedReport(
    ['createdAt', 'instrument', 'score', 'severity'],
    {
      select: sql`SELECT id AS k_id, ${exactTimestamp(sql`created_at`)} AS k_at, instrument, score, severity
                  FROM assessments
                  WHERE user_id = ${userId} AND created_at >= ${from.toISOString()}::timestamptz
                    AND created_at <= ${to.toISOString()}::timestamptz
                    ${instrument ? sql`AND instrument = ${instrument}` : sql``}`,
      row: assessmentRow,
      keys: [sql`created_at`, sql`id`],
      keyOf,
    },
    (r) => [r.k_at, r.instrument, r.score, r.severity],
  );
}

const sessionRow = keyed.extend({ as_role: z.string(), duration_minutes: z.number(), status: z.string() });
/** Sessions the caller had, as patient or as therapist, by start time. */
function sessionReport(userId: string, from: Date, to: Date): Report {
  return pagedReport(
    ['startsAt', 'as', 'durationMinutes', 'status'],
    {
      select: sql`SELECT id AS k_id, ${exactTimestamp(sql`starts_at`)} AS k_at,
                         CASE WHEN patient_id = ${userId} THEN 'patient' ELSE 'therapist' END AS as_role,
                         duration_minutes, status
                  FROM therapy_sessions
                  WHERE (patient_id = ${userId} OR therapist_id = ${userId})
                    AND starts_at >= ${from.toISOString()}::timestamptz AND starts_at <= ${to.toISOString()}::timestamptz`,
      row: sessionRow,
      keys: [sql`starts_at`, sql`id`],
      keyOf,
    },
    (r) => [r.k_at, r.as_role, r.duration_minutes, r.status],
  );
}

type Input = z.infer<typeof reportInput> & {
  instrument?: z.infer<typeof assessmentReportInput>['instrument'];
};

/** The report as text chunks; nothing runs until the first chunk is asked for. */
export async function* streamReport(
  deps: { db: Executor; quotas: Pick<Quotas, 'reports'> },
  userId: string,
  ip: string,
  kind: ReportKind,
  input: Input,
): AsyncGenerator<string> {
  const report =
    kind === 'mood'
      ? moodReport(userId, input.from, input.to)
      : kind === 'assessments'
        ? assessmentReport(userId, input.from, input.to, input.instrument)
        : sessionReport(userId, input.from, input.to);
  // REPORTS_PER_HOUR per user and kind, taken before anything is read (as export.mine's).
  await deps.quotas.reports.consume(`${userId}:${kind}`);
  await recordAudit(deps.db, {
    actorId: userId,
    action: `reports.${kind}`,
    targetId: userId,
    ip,
    details: { from: input.from.toISOString(), to: input.to.toISOString(), format: input.format },
  });
  // Audited and read on the primary: the pages are read while the response streams, after
  // the call's replica choice (db/replicas.ts) has ended, and a report often follows the
  // caller's own writes.
  if (input.format === 'csv') {
    yield* report.csv(deps.db);
    return;
  }
  const head = {
    report: kind,
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    columns: report.columns,
  };
  yield `${JSON.stringify(head).slice(0, -1)},`;
  yield* report.json(deps.db);
  yield '}';
}
