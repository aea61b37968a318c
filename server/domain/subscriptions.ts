// subscriptions.*: the plan catalog (public) and the caller's current subscription.
import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { prepared } from '../../db/prepared.ts';
import { features, planFeatures, plans, subscriptions } from '../../db/schema/index.ts';

/** The four plans with their features, cheapest first. One query, prepared (public and hot). */
const planCatalog = (db: Db) =>
  db
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
    .orderBy(asc(plans.tier))
    .prepare('plan_catalog');

export function listPlans(db: Db) {
  return prepared(db, 'plan_catalog', planCatalog).execute();
}

/**
 * The caller's subscription. `plan` is the plan in effect: the subscribed plan while the
 * subscription is active, else 'free' (as in the token and mv_users_with_subscription);
 * `status` is 'none' for a user who never subscribed. One query.
 */
export async function currentSubscription(db: Db, userId: string) {
  const [row] = await db
    .select({
      plan: sql<string>`CASE WHEN ${subscriptions.status} = 'active' THEN ${plans.code} ELSE 'free' END`,
      status: subscriptions.status,
      currentPeriodEnd: subscriptions.currentPeriodEnd,
    })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .where(eq(subscriptions.userId, userId));
  return row ?? { plan: 'free', status: 'none' as const, currentPeriodEnd: null };
}
