// assessments.*: PHQ-9 and GAD-7 screenings (docs/api.md). Scoring is the sum of the answers;
// the severity bands are the instruments' published ones. A PHQ-9 with any answer above 0
// on item 9 (thoughts of self-harm) raises a crisis alert in the same statement as the
// assessment, so a saved assessment can never lack its alert (or, while the patient's
// alert is open, is attached to it).
import { and, desc, eq, type SQL, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client.ts';
import { prepared } from '../../db/prepared.ts';
import { idRow } from '../../db/row.ts';
import { assessments } from '../../db/schema/index.ts';
import type {
  AssessmentHistoryInput,
  Instrument,
  SubmitAssessmentInput,
} from '../../shared/inputs/assessments.ts';
import { afterTimeCursor, decodeCursor, exactTimestamp, timePage } from '../keyset.ts';

/** Upper bound of each band (inclusive), lowest first. */
const BANDS: Record<Instrument, Array<[max: number, severity: string]>> = {
  PHQ9: [
    [4, 'minimal'],
    [9, 'mild'],
    [14, 'moderate'],
    [19, 'moderately severe'],
    [27, 'severe'],
  ],
  GAD7: [
    [4, 'minimal'],
    [9, 'mild'],
    [14, 'moderate'],
    [21, 'severe'],
  ],
};

/** PHQ-9 item 9 ("thoughts that you would be better off dead or of hurting yourself"). */
const PHQ9_SELF_HARM_ITEM = 8;

export function scoreAssessment(instrument: Instrument, answers: number[]) {
  const score = answers.reduce((sum, a) => sum + a, 0);
  const severity = BANDS[instrument].find(([max]) => score <= max)?.[1];
  if (severity === undefined) throw new Error(`score ${score} is out of range for ${instrument}`);
  const crisis = instrument === 'PHQ9' && (answers[PHQ9_SELF_HARM_ITEM] ?? 0) > 0;
  return { score, severity, crisis };
}

/**
 * One statement: the assessment and, when crisis is set, its alert (a data-modifying CTE).
 * A patient has at most one open alert (crisis_alerts_one_open_uq): a crisis-level
 * screening while one is open attaches to it (submissions + 1, the latest assessment and
 * when) instead of raising another; the answer still says crisis: true.
 */
export async function submitAssessment(db: Db, userId: string, input: SubmitAssessmentInput) {
  const { score, severity, crisis } = scoreAssessment(input.instrument, input.answers);
  const answers = sql`ARRAY[${sql.join(
    input.answers.map((a) => sql`${a}`),
    sql`, `,
  )}]::smallint[]`;
  const [row] = await queryRows(
    db,
    idRow,
    sql`WITH saved AS (
          INSERT INTO assessments (user_id, instrument, answers, score, severity, crisis)
          VALUES (${userId}, ${input.instrument}, ${answers}, ${score}, ${severity}, ${crisis})
          RETURNING id, user_id, crisis, created_at
        ), alert AS (
          INSERT INTO crisis_alerts (user_id, assessment_id, assessment_created_at, last_assessment_id,
                                     last_assessment_created_at)
          SELECT user_id, id, created_at, id, created_at FROM saved WHERE crisis
          ON CONFLICT (user_id) WHERE status = 'open' DO UPDATE
            SET submissions = crisis_alerts.submissions + 1,
                last_assessment_id = excluded.assessment_id,
                last_assessment_created_at = excluded.assessment_created_at, last_submitted_at = now()
        )
        SELECT id FROM saved`,
  );
  return { id: row!.id, instrument: input.instrument, score, severity, crisis };
}

/**
 * A page of a user's assessments: one SELECT on the (user_id, created_at desc, id desc)
 * index, built once per shape (with or without the instrument filter and the cursor) and
 * prepared: the same statement text as building it at each call, without the building.
 */
const historyPage = (instrument: boolean, cursor: boolean) => (db: Db) => {
  const where: SQL[] = [eq(assessments.userId, sql.placeholder('userId'))];
  if (instrument) where.push(eq(assessments.instrument, sql.placeholder('instrument')));
  if (cursor)
    where.push(
      afterTimeCursor(assessments.createdAt, assessments.id, [
        sql.placeholder('afterAt'),
        sql.placeholder('afterId'),
      ]),
    );
  return db
    .select({
      id: assessments.id,
      instrument: assessments.instrument,
      answers: assessments.answers,
      score: assessments.score,
      severity: assessments.severity,
      crisis: assessments.crisis,
      createdAt: assessments.createdAt,
      key: exactTimestamp(assessments.createdAt),
    })
    .from(assessments)
    .where(and(...where))
    .orderBy(desc(assessments.createdAt), desc(assessments.id))
    .limit(sql.placeholder('limit'))
    .prepare('assessments_history');
};

export async function assessmentHistory(db: Db, userId: string, input: AssessmentHistoryInput) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const instrument = Boolean(input.instrument);
  const rows = await prepared(
    db,
    `assessments_history:${instrument}:${after !== undefined}`,
    historyPage(instrument, after !== undefined),
  ).execute({
    userId,
    instrument: input.instrument,
    afterAt: after?.[0],
    afterId: after?.[1],
    limit: input.limit + 1,
  });
  return timePage(rows, input.limit);
}
