// subscriptions.*: the plan catalog (public), the caller's current subscription and the
// self-service changes (checkout, cancel), wired to their use cases
// (server/domain/subscriptions.ts). The plan itself changes on the payment webhook.
import { checkoutInput } from '../../shared/inputs/subscriptions.ts';
import { plansOutput } from '../../shared/outputs.ts';
import { cancelAtPeriodEnd, checkout, currentSubscription, listPlans } from '../domain/subscriptions.ts';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.ts';

export const subscriptionsRouter = router({
  plans: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'The plans and their features, cheapest first',
      },
    })
    .output(plansOutput)
    .query(({ ctx }) => listPlans(ctx.deps.readDb)),
  // Read from the primary: right after a payment or an admin's change, the caller sees it.
  current: protectedProcedure
    .meta({ auth: 'user' })
    .query(({ ctx }) => currentSubscription(ctx.deps.db, ctx.auth.sub)),

  /** Creates a payment order for a plan; the plan changes when the payment webhook arrives. */
  checkout: protectedProcedure
    .meta({ auth: 'user', rateLimit: 'checkout', verifiedEmail: true, openapi: { errors: [412] } })
    .input(checkoutInput)
    .mutation(({ ctx, input }) => checkout(ctx.deps, ctx.auth.sub, input.planCode, ctx.req.ip)),

  /** The paid plan stays until the end of its period, then the subscription expires. */
  cancel: protectedProcedure
    .meta({ auth: 'user' })
    .mutation(({ ctx }) => cancelAtPeriodEnd(ctx.deps.db, ctx.auth.sub, ctx.req.ip)),
});
