// mood.* wired to their use cases (server/domain/mood.ts).
import { moodContract as c } from '../../shared/contracts/mood.ts';
import { listMood, logMood } from '../domain/mood.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const moodRouter = router({
  log: protectedProcedure
    .meta(c.log.meta)
    .input(c.log.input)
    .output(c.log.output)
    .mutation(({ ctx, input }) => logMood(ctx.deps.db, ctx.auth.sub, input)),

  list: protectedProcedure
    .meta(c.list.meta)
    .input(c.list.input)
    .output(c.list.output)
    .query(({ ctx, input }) => listMood(ctx.deps.db, ctx.auth.sub, input)),
});
