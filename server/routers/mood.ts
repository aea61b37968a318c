// mood.* wired to their use cases (server/domain/mood.ts).
import { listMoodInput, logMoodInput } from '../../shared/inputs/mood.ts';
import { moodEntryOutput, moodPageOutput } from '../../shared/outputs.ts';
import { listMood, logMood } from '../domain/mood.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const moodRouter = router({
  log: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'mood.write',
      feature: 'mood_tracking',
      openapi: { summary: 'Log a mood entry' },
    })
    .input(logMoodInput)
    .output(moodEntryOutput)
    .mutation(({ ctx, input }) => logMood(ctx.deps.db, ctx.auth.sub, input)),

  list: protectedProcedure
    .meta({
      auth: 'user',
      permission: 'mood.read',
      feature: 'mood_tracking',
      openapi: {
        summary: "The caller's mood entries, newest first",
      },
    })
    .input(listMoodInput)
    .output(moodPageOutput)
    .query(({ ctx, input }) => listMood(ctx.deps.db, ctx.auth.sub, input)),
});
