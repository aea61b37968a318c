// therapists.list wired to its use case (server/domain/therapists.ts).
import { therapistsContract as c } from '../../shared/contracts/therapists.ts';
import { listTherapists } from '../domain/therapists.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const therapistsRouter = router({
  list: protectedProcedure
    .meta(c.list.meta)
    .input(c.list.input)
    .output(c.list.output)
    .query(({ ctx, input }) => listTherapists(ctx.deps.readDb, input)),
});
