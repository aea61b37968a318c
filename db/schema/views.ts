// The claims and admin views (migrations 0002, 0010, 0029), the table listing the views that
// refresh_materialized_views() repairs, and the table in which it records each repair.
import { sql } from 'drizzle-orm';
import {
  bigint,
  doublePrecision,
  index,
  integer,
  pgSequence,
  pgTable,
  primaryKey,
  smallint,
  text,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { tstz } from './columns.ts';

// The claims and admin views: tables kept current by triggers (migration 0029), each equal to
// its definition, the plain view `<name>_source`, whenever a transaction commits.
export const mvUserPermissions = pgTable('mv_user_permissions', {
  userId: uuid().primaryKey(),
  role: text().notNull(),
  privilegeLevel: integer().notNull(),
  permissions: text().array().notNull(),
});

export const mvUserFeatures = pgTable('mv_user_features', {
  userId: uuid().primaryKey(),
  plan: text().notNull(),
  features: text().array().notNull(),
});

export const mvUsersWithSubscription = pgTable(
  'mv_users_with_subscription',
  {
    userId: uuid().primaryKey(),
    email: text().notNull(),
    name: text().notNull(),
    role: text().notNull(),
    privilegeLevel: integer().notNull(),
    status: text().notNull(),
    plan: text().notNull(),
    subscriptionStatus: text().notNull(),
    currentPeriodEnd: tstz(),
    createdAt: tstz().notNull(),
  },
  (t) => [
    index('mv_users_with_subscription_email_idx').using('btree', sql`lower(${t.email}) text_pattern_ops`),
    index('mv_users_with_subscription_name_idx').using('btree', sql`lower(${t.name}) text_pattern_ops`),
    index('mv_users_with_subscription_role_idx').on(t.role, t.userId),
    index('mv_users_with_subscription_plan_idx').on(t.plan, t.userId),
  ],
);

/**
 * Users per role × status × plan × subscription status: analytics.overview's counts, in 16
 * stripes (by user id) so that concurrent registrations rarely wait on one row; readers sum.
 */
export const mvUserCounts = pgTable(
  'mv_user_counts',
  {
    role: text().notNull(),
    status: text().notNull(),
    plan: text().notNull(),
    subscriptionStatus: text().notNull(),
    stripe: smallint().notNull(),
    users: integer().notNull(),
  },
  (t) => [
    primaryKey({
      name: 'mv_user_counts_pkey',
      columns: [t.role, t.status, t.plan, t.subscriptionStatus, t.stripe],
    }),
  ],
);

/**
 * Moves on every change to a base table of the views (triggers in 0002_views.sql); a repair
 * is skipped when it has not moved. Declared here, as created there, so that drizzle-kit
 * knows it: `drizzle-kit push` would otherwise propose to drop it.
 */
export const viewChangeSeq = pgSequence('view_change_seq');

export const viewRefreshStatus = pgTable('view_refresh_status', {
  viewName: text().primaryKey(),
  lastRefreshedAt: tstz().notNull(),
  durationMs: doublePrecision().notNull(),
  rowCount: bigint({ mode: 'number' }).notNull(),
  // The value of view_change_seq seen when the repair started; a repair is skipped
  // when the sequence has not moved since (no base table changed).
  changeSeq: bigint({ mode: 'number' }).notNull(),
  /** Rows the last repair found different from the definition and put right (0: the triggers kept up). */
  repairedRows: bigint({ mode: 'number' }).notNull().default(0),
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

/**
 * The monthly partitions of the history tables (mood_entries, assessments, audit_log) and their
 * bounds, written by create_history_partition (migration 0031); the audit retention drops those
 * wholly past it.
 */
export const historyPartitions = pgTable(
  'history_partitions',
  {
    tableName: text().notNull(),
    partitionName: text().primaryKey(),
    fromAt: tstz().notNull(),
    toAt: tstz().notNull(),
  },
  (t) => [unique('history_partitions_month_uq').on(t.tableName, t.fromAt)],
);
