// subscriptions.*: the plan catalog (public) and the caller's current subscription,
// wired to their use cases (server/domain/subscriptions.ts).
import { currentSubscription, listPlans } from '../domain/subscriptions.ts';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.ts';

export const subscriptionsRouter = router({
  plans: publicProcedure.meta({ auth: 'public' }).query(({ ctx }) => listPlans(ctx.deps.readDb)),
  // Read from the primary: right after an admin changes the plan, the caller sees it.
  current: protectedProcedure
    .meta({ auth: 'user' })
    .query(({ ctx }) => currentSubscription(ctx.deps.db, ctx.auth.sub)),
});
