// subscriptions.*: the plan catalog (public) and the caller's current subscription.
import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { features, planFeatures, plans } from '../../db/schema/index.ts';
import { publicProcedure, router } from '../trpc/init.ts';

/** The four plans with their features, cheapest first. One query. */
export async function listPlans(db: Db) {
  return db
    .select({
      code: plans.code,
      name: plans.name,
      pricePaise: plans.pricePaise,
      features: sql<
        string[]
      >`coalesce(array_agg(${features.code} ORDER BY ${features.code}) FILTER (WHERE ${features.code} IS NOT NULL), '{}')`,
    })
    .from(plans)
    .leftJoin(planFeatures, eq(planFeatures.planId, plans.id))
    .leftJoin(features, eq(features.id, planFeatures.featureId))
    .groupBy(plans.id)
    .orderBy(asc(plans.tier));
}

export const subscriptionsRouter = router({
  plans: publicProcedure.query(({ ctx }) => listPlans(ctx.deps.readDb)),
});
