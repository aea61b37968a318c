// crisis.* wired to their use cases (server/domain/crisis.ts).
import { acknowledgeCrisisInput, crisisListInput } from '../../shared/inputs/crisis.ts';
import { acknowledgeCrisisAlert, listCrisisAlerts } from '../domain/crisis.ts';
import { readerOf } from '../trpc/context.ts';
import { protectedProcedure, router } from '../trpc/init.ts';

export const crisisRouter = router({
  list: protectedProcedure
    .meta({ auth: 'user', permission: 'crisis.manage' })
    .input(crisisListInput)
    .query(({ ctx, input }) => listCrisisAlerts(ctx.deps.db, readerOf(ctx), input)),

  acknowledge: protectedProcedure
    .meta({ auth: 'user', permission: 'crisis.manage' })
    .input(acknowledgeCrisisInput)
    .mutation(({ ctx, input }) =>
      acknowledgeCrisisAlert(ctx.deps.db, ctx.auth.sub, input.alertId, ctx.req.ip),
    ),
});
