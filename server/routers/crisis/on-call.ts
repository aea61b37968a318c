// crisis.onCall.*: the on-call schedule (server/domain/crisis-duty.ts).
import { onCallContract as c } from '../../../shared/contracts/crisis/on-call.ts';
import { listOnCall, setOnCall } from '../../domain/crisis-duty.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';

export const onCallRouter = router({
  set: protectedProcedure
    .meta(c.set.meta)
    .input(c.set.input)
    .output(c.set.output)
    .mutation(({ ctx, input }) => setOnCall(ctx.deps.db, ctx.auth.sub, input, ctx.req.ip)),

  list: protectedProcedure
    .meta(c.list.meta)
    .output(c.list.output)
    .query(({ ctx }) => listOnCall(ctx.deps.db)),
});
