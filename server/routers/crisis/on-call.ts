// crisis.onCall.*: the on-call schedule (server/domain/crisis-duty.ts).
import { onCallSetInput } from '../../../shared/inputs/crisis.ts';
import { listOnCall, setOnCall } from '../../domain/crisis-duty.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

export const onCallRouter = router({
  set: protectedProcedure
    .meta({ auth: 'user', permission: 'crisis.manage' })
    .input(onCallSetInput)
    .mutation(({ ctx, input }) => setOnCall(ctx.deps.db, ctx.auth.sub, input, ctx.req.ip)),

  list: protectedProcedure
    .meta({ auth: 'user', permission: 'crisis.manage' })
    .query(({ ctx }) => listOnCall(ctx.deps.db)),
});
