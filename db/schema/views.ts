// Materialized views (created by the custom migration migrations/0002_*.sql), the table
// listing the views that refresh_materialized_views() refreshes, and the table in which it
// records each refresh.
import {
  bigint,
  doublePrecision,
  integer,
  pgMaterializedView,
  pgSequence,
  pgTable,
  text,
  uuid,
} from 'drizzle-orm/pg-core';
import { tstz } from './columns.ts';

export const mvUserPermissions = pgMaterializedView('mv_user_permissions', {
  userId: uuid().notNull(),
  role: text().notNull(),
  privilegeLevel: integer().notNull(),
  permissions: text().array().notNull(),
}).existing();

export const mvUserFeatures = pgMaterializedView('mv_user_features', {
  userId: uuid().notNull(),
  plan: text().notNull(),
  features: text().array().notNull(),
}).existing();

export const mvUsersWithSubscription = pgMaterializedView('mv_users_with_subscription', {
  userId: uuid().notNull(),
  email: text().notNull(),
  name: text().notNull(),
  role: text().notNull(),
  privilegeLevel: integer().notNull(),
  status: text().notNull(),
  plan: text().notNull(),
  subscriptionStatus: text().notNull(),
  currentPeriodEnd: tstz(),
  createdAt: tstz().notNull(),
}).existing();

/** Users per role × status × plan × subscription status: analytics.overview's counts. */
export const mvUserCounts = pgMaterializedView('mv_user_counts', {
  role: text().notNull(),
  status: text().notNull(),
  plan: text().notNull(),
  subscriptionStatus: text().notNull(),
  users: integer().notNull(),
}).existing();

/**
 * Moves on every change to a base table of the views (triggers in 0002_views.sql); a refresh
 * is skipped when it has not moved. Declared here, as created there, so that drizzle-kit
 * knows it: `drizzle-kit push` would otherwise propose to drop it.
 */
export const viewChangeSeq = pgSequence('view_change_seq');

export const viewRefreshStatus = pgTable('view_refresh_status', {
  viewName: text().primaryKey(),
  lastRefreshedAt: tstz().notNull(),
  durationMs: doublePrecision().notNull(),
  rowCount: bigint({ mode: 'number' }).notNull(),
  // The value of view_change_seq seen when the refresh started; a refresh is skipped
  // when the sequence has not moved since (no base table changed).
  changeSeq: bigint({ mode: 'number' }).notNull(),
});

/**
 * The views the refresh functions refresh, in order (migration 0022): a new view is one row
 * here (and its name in MATERIALIZED_VIEWS), not a new definition of the functions.
 */
export const refreshedViews = pgTable('refreshed_views', {
  viewName: text().primaryKey(),
  position: integer().notNull().unique(),
});

/** The rows of refreshed_views, in their order (test/foundation.test.ts compares them). */
export const MATERIALIZED_VIEWS = [
  'mv_user_permissions',
  'mv_user_features',
  'mv_users_with_subscription',
  'mv_user_counts',
] as const;

/**
 * The last schedule tick each job ran for (server/jobs): every instance fires each tick, the
 * first to take the job's lock records the tick, and the others find it done.
 */
export const jobTicks = pgTable('job_ticks', {
  job: text().primaryKey(),
  tick: tstz().notNull(),
});
