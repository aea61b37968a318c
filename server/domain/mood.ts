// mood.*: a patient's mood log (docs/api.md), newest first with keyset pagination.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { prepared } from '../../db/prepared.ts';
import { moodEntries } from '../../db/schema/index.ts';
import type { ListMoodInput, LogMoodInput } from '../../shared/inputs/mood.ts';
import { decodeCursor, exactTimestamp, timePage } from '../keyset.ts';

const entryColumns = {
  id: moodEntries.id,
  score: moodEntries.score,
  note: moodEntries.note,
  tags: moodEntries.tags,
  createdAt: moodEntries.createdAt,
};

const p = {
  userId: sql.placeholder('userId'),
  score: sql.placeholder('score'),
  note: sql.placeholder('note'),
  tags: sql.placeholder('tags'),
  from: sql.placeholder('from'),
  to: sql.placeholder('to'),
  afterAt: sql.placeholder('afterAt'),
  afterId: sql.placeholder('afterId'),
  limit: sql.placeholder('limit'),
};

/**
 * A page of a user's entries, newest first: one SELECT on the (user_id, created_at desc,
 * id desc) index. Prepared once (a hot query); absent filters are NULL parameters.
 */
const moodPage = (db: Db) =>
  db
    .select({ ...entryColumns, key: exactTimestamp(moodEntries.createdAt) })
    .from(moodEntries)
    .where(
      and(
        eq(moodEntries.userId, p.userId),
        sql`(${p.from}::timestamptz IS NULL OR ${moodEntries.createdAt} >= ${p.from}::timestamptz)`,
        sql`(${p.to}::timestamptz IS NULL OR ${moodEntries.createdAt} <= ${p.to}::timestamptz)`,
        sql`(${p.afterAt}::timestamptz IS NULL
             OR (${moodEntries.createdAt}, ${moodEntries.id}) < (${p.afterAt}::timestamptz, ${p.afterId}::uuid))`,
      ),
    )
    .orderBy(desc(moodEntries.createdAt), desc(moodEntries.id))
    .limit(p.limit)
    .prepare('mood_list');

/** One INSERT, prepared (a hot write). */
const moodInsert = (db: Db) =>
  db
    .insert(moodEntries)
    .values({ userId: p.userId, score: p.score, note: p.note, tags: p.tags })
    .returning(entryColumns)
    .prepare('mood_log');

export async function logMood(db: Db, userId: string, input: LogMoodInput) {
  const [entry] = await prepared(db, 'mood_log', moodInsert).execute({
    userId,
    score: input.score,
    note: input.note ?? null,
    // Encoded at execution by the column, as a value given to .values() is (a text[] literal).
    tags: input.tags ?? [],
  });
  return entry!;
}

export async function listMood(db: Db, userId: string, input: ListMoodInput) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const rows = await prepared(db, 'mood_list', moodPage).execute({
    userId,
    from: input.from?.toISOString() ?? null,
    to: input.to?.toISOString() ?? null,
    afterAt: after?.[0] ?? null,
    afterId: after?.[1] ?? null,
    limit: input.limit + 1,
  });
  return timePage(rows, input.limit);
}
