// mood.* wired to their use cases (server/domain/mood.ts).
import { listMoodInput, logMoodInput } from '../../shared/inputs/mood.ts';
import { listMood, logMood } from '../domain/mood.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const moodRouter = router({
  log: protectedProcedure
    .meta({ auth: 'user', permission: 'mood.write', feature: 'mood_tracking' })
    .input(logMoodInput)
    .mutation(({ ctx, input }) => logMood(ctx.deps.db, ctx.auth.sub, input)),

  list: protectedProcedure
    .meta({ auth: 'user', permission: 'mood.read', feature: 'mood_tracking' })
    .input(listMoodInput)
    .query(({ ctx, input }) => listMood(ctx.deps.db, ctx.auth.sub, input)),
});
