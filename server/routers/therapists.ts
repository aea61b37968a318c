// therapists.list wired to its use case (server/domain/therapists.ts).
import { therapistListInput } from '../../shared/inputs/therapy.ts';
import { listTherapists } from '../domain/therapists.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const therapistsRouter = router({
  list: protectedProcedure
    .meta({ auth: 'user' })
    .input(therapistListInput)
    .query(({ ctx, input }) => listTherapists(ctx.deps.readDb, input)),
});
