// crisis.* wired to their use cases (server/domain/crisis.ts) and the live queue
// (server/live/crisis-feed.ts); crisis.onCall.* in ./on-call.ts.

import { tracked } from '@trpc/server';
import { crisisContract as c } from '../../../shared/contracts/crisis/index.ts';
import type { AccessClaims } from '../../auth/tokens.ts';
import { acknowledgeCrisisAlert, listCrisisAlerts } from '../../domain/crisis.ts';
import { type CrisisFeed, crisisChanged } from '../../live/crisis-feed.ts';
import { readerOf } from '../../trpc/context.ts';
import { edgeStream } from '../../trpc/errors.ts';
import { protectedProcedure, router } from '../../trpc/init.ts';
import { onCallRouter } from './on-call.ts';

/** The feed's events as tracked SSE events: the event id is what a reconnecting client sends back. */
async function* trackedEvents(
  feed: CrisisFeed,
  claims: AccessClaims,
  lastEventId: string | null | undefined,
  signal: AbortSignal | undefined,
) {
  for await (const event of feed.events(claims, lastEventId ? Number(lastEventId) : undefined, signal))
    yield tracked(event.id, event);
}

export const crisisRouter = router({
  onCall: onCallRouter,

  list: protectedProcedure
    .meta(c.list.meta)
    .input(c.list.input)
    .output(c.list.output)
    .query(({ ctx, input }) => listCrisisAlerts(ctx.deps.db, readerOf(ctx), input)),

  acknowledge: protectedProcedure
    .meta(c.acknowledge.meta)
    .input(c.acknowledge.input)
    .output(c.acknowledge.output)
    .mutation(async ({ ctx, input }) => {
      const alert = await acknowledgeCrisisAlert(ctx.deps.db, ctx.auth.sub, input.alertId, ctx.req.ip);
      crisisChanged(ctx.deps);
      if (alert.acknowledgedAt)
        ctx.deps.metrics.crisisAcknowledged(
          (alert.acknowledgedAt.getTime() - alert.createdAt.getTime()) / 1000,
        );
      return alert;
    }),

  /**
   * The live queue over server-sent events (httpSubscriptionLink): raised, acknowledged (by
   * whom), escalated. Served by tRPC's official adapter on either TRPC_PATH (the lean path
   * hands subscriptions to it: server/http/lean.ts).
   */
  onChange: protectedProcedure
    .meta(c.onChange.meta)
    .input(c.onChange.input)
    .subscription(({ ctx, input, signal }) =>
      edgeStream(trackedEvents(ctx.deps.crisisFeed, ctx.auth, input.lastEventId, signal)),
    ),
});
