// mood.*: a patient's mood log (API.md), newest first with keyset pagination.
import { and, desc, eq, gte, lte, type SQL, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { Db } from '../../db/client.ts';
import { moodEntries } from '../../db/schema/index.ts';
import { listMoodInput, logMoodInput } from '../../shared/inputs/mood.ts';
import { decodeCursor, exactTimestamp, toPage } from '../keyset.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

const entryColumns = {
  id: moodEntries.id,
  score: moodEntries.score,
  note: moodEntries.note,
  tags: moodEntries.tags,
  createdAt: moodEntries.createdAt,
};

/** One INSERT. */
export async function logMood(db: Db, userId: string, input: z.infer<typeof logMoodInput>) {
  const [entry] = await db
    .insert(moodEntries)
    .values({ userId, score: input.score, note: input.note ?? null, tags: input.tags ?? [] })
    .returning(entryColumns);
  return entry!;
}

/** One SELECT on the (user_id, created_at desc, id desc) index. */
export async function listMood(db: Db, userId: string, input: z.infer<typeof listMoodInput>) {
  const after = decodeCursor(input.cursor, ['timestamp', 'uuid']);
  const where: (SQL | undefined)[] = [eq(moodEntries.userId, userId)];
  if (input.from) where.push(gte(moodEntries.createdAt, input.from));
  if (input.to) where.push(lte(moodEntries.createdAt, input.to));
  if (after)
    where.push(
      sql`(${moodEntries.createdAt}, ${moodEntries.id}) < (${after[0]}::timestamptz, ${after[1]}::uuid)`,
    );
  const rows = await db
    .select({ ...entryColumns, key: exactTimestamp(moodEntries.createdAt) })
    .from(moodEntries)
    .where(and(...where))
    .orderBy(desc(moodEntries.createdAt), desc(moodEntries.id))
    .limit(input.limit + 1);
  return toPage(
    rows,
    input.limit,
    (r) => [r.key, r.id],
    ({ key: _key, ...entry }) => entry,
  );
}

export const moodRouter = router({
  log: protectedProcedure
    .meta({ permission: 'mood.write', feature: 'mood_tracking' })
    .input(logMoodInput)
    .mutation(({ ctx, input }) => logMood(ctx.deps.db, ctx.auth.sub, input)),

  list: protectedProcedure
    .meta({ permission: 'mood.read', feature: 'mood_tracking' })
    .input(listMoodInput)
    .query(({ ctx, input }) => listMood(ctx.deps.db, ctx.auth.sub, input)),
});
