// subscriptions.*: the plan catalog (public), the caller's current subscription and the
// self-service changes (checkout, cancel), wired to their use cases
// (server/domain/subscriptions.ts). The plan itself changes on the payment webhook.
import { subscriptionsContract as c } from '../../shared/contracts/subscriptions.ts';
import { cancelAtPeriodEnd, checkout, currentSubscription, listPlans } from '../domain/subscriptions.ts';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.ts';

export const subscriptionsRouter = router({
  plans: publicProcedure
    .meta(c.plans.meta)
    .output(c.plans.output)
    .query(({ ctx }) => listPlans(ctx.deps.readDb)),
  // Read from the primary: right after a payment or an admin's change, the caller sees it.
  current: protectedProcedure
    .meta(c.current.meta)
    .output(c.current.output)
    .query(({ ctx }) => currentSubscription(ctx.deps.db, ctx.auth.sub)),

  /** Creates a payment order for a plan; the plan changes when the payment webhook arrives. */
  checkout: protectedProcedure
    .meta(c.checkout.meta)
    .input(c.checkout.input)
    .output(c.checkout.output)
    .mutation(({ ctx, input }) => checkout(ctx.deps, ctx.auth.sub, input.planCode, ctx.req.ip)),

  /** The paid plan stays until the end of its period, then the subscription expires. */
  cancel: protectedProcedure
    .meta(c.cancel.meta)
    .output(c.cancel.output)
    .mutation(({ ctx }) => cancelAtPeriodEnd(ctx.deps.db, ctx.auth.sub, ctx.req.ip)),
});
