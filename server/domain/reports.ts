// reports.*: series over the caller's own data for a date range, as JSON or CSV, streamed
// (server/domain/documents.ts). Each report is audited when its first chunk is produced.
// Statements: 1 (audit) + floor(n / 500) + 1 for n rows.
import { sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Executor } from '../../db/client.ts';
import type { assessmentReportInput, reportInput } from '../../shared/inputs/reports.ts';
import { recordAudit } from '../audit.ts';
import { exactTimestamp } from '../keyset.ts';
import { csvRows, jsonArray, type PagedQuery, pagedRows } from './documents.ts';

export type ReportKind = 'mood' | 'assessments' | 'sessions';
type Row = Record<string, unknown> & { k_at: string; k_id: string };

interface Report {
  columns: string[];
  query: PagedQuery<Row>;
  fields: (row: Row) => unknown[];
}

const keyOf = (r: Row) => sql`(${r.k_at}::timestamptz, ${r.k_id}::uuid)`;

function moodReport(userId: string, from: Date, to: Date): Report {
  return {
    columns: ['createdAt', 'score', 'tags'],
    query: {
      select: sql`SELECT id AS k_id, ${exactTimestamp(sql`created_at`)} AS k_at, score, tags FROM mood_entries
                  WHERE user_id = ${userId} AND created_at >= ${from.toISOString()}::timestamptz
                    AND created_at <= ${to.toISOString()}::timestamptz`,
      keys: [sql`created_at`, sql`id`],
      keyOf,
    },
    fields: (r) => [r.k_at, r.score, r.tags],
  };
}

function assessmentReport(userId: string, from: Date, to: Date, instrument: string | undefined): Report {
  return {
    columns: ['createdAt', 'instrument', 'score', 'severity'],
    query: {
      select: sql`SELECT id AS k_id, ${exactTimestamp(sql`created_at`)} AS k_at, instrument, score, severity
                  FROM assessments
                  WHERE user_id = ${userId} AND created_at >= ${from.toISOString()}::timestamptz
                    AND created_at <= ${to.toISOString()}::timestamptz
                    ${instrument ? sql`AND instrument = ${instrument}` : sql``}`,
      keys: [sql`created_at`, sql`id`],
      keyOf,
    },
    fields: (r) => [r.k_at, r.instrument, r.score, r.severity],
  };
}

/** Sessions the caller had, as patient or as therapist, by start time. */
function sessionReport(userId: string, from: Date, to: Date): Report {
  return {
    columns: ['startsAt', 'as', 'durationMinutes', 'status'],
    query: {
      select: sql`SELECT id AS k_id, ${exactTimestamp(sql`starts_at`)} AS k_at,
                         CASE WHEN patient_id = ${userId} THEN 'patient' ELSE 'therapist' END AS as_role,
                         duration_minutes, status
                  FROM therapy_sessions
                  WHERE (patient_id = ${userId} OR therapist_id = ${userId})
                    AND starts_at >= ${from.toISOString()}::timestamptz AND starts_at <= ${to.toISOString()}::timestamptz`,
      keys: [sql`starts_at`, sql`id`],
      keyOf,
    },
    fields: (r) => [r.k_at, r.as_role, r.duration_minutes, r.status],
  };
}

type Input = z.infer<typeof reportInput> & {
  instrument?: z.infer<typeof assessmentReportInput>['instrument'];
};

/** The report as text chunks; nothing runs until the first chunk is asked for. */
export async function* streamReport(
  deps: { db: Executor },
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
  const pages = pagedRows(deps.db, report.query);
  if (input.format === 'csv') {
    yield* csvRows(report.columns, pages, report.fields);
    return;
  }
  const head = {
    report: kind,
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    columns: report.columns,
  };
  yield `${JSON.stringify(head).slice(0, -1)},`;
  yield* jsonArray('rows', pages, report.fields);
  yield '}';
}
