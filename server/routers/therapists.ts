// therapists.list wired to its use case (server/domain/therapists.ts).
import { therapistListInput } from '../../shared/inputs/therapy.ts';
import { therapistPageOutput } from '../../shared/outputs.ts';
import { listTherapists } from '../domain/therapists.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const therapistsRouter = router({
  list: protectedProcedure
    .meta({
      auth: 'user',
      // The public directory: no personal data of the caller.
      apiKey: 'any',
      openapi: {
        summary: 'The directory of active therapists',
      },
    })
    .input(therapistListInput)
    .output(therapistPageOutput)
    .query(({ ctx, input }) => listTherapists(ctx.deps.readDb, input)),
});
