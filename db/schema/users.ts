// Accounts, subscriptions, refresh tokens and the audit log.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { tstz } from './columns.ts';
import { plans, roles } from './rbac.ts';

export const users = pgTable(
  'users',
  {
    id: uuid().primaryKey().defaultRandom(),
    email: text().notNull(),
    name: text().notNull(),
    phone: text(),
    language: text(),
    passwordHash: text().notNull(),
    roleId: smallint()
      .notNull()
      .references(() => roles.id),
    // 'pending': registered, the address not yet confirmed (auth.verifyEmail makes it
    // active; never confirmed, the pending-account-cleanup job deletes it). Migration 0034.
    status: text({ enum: ['active', 'suspended', 'pending'] })
      .notNull()
      .default('active'),
    suspendedReason: text(),
    failedLogins: integer().notNull().default(0),
    lockedUntil: tstz(),
    // Access tokens issued before this instant are dead (logout-all, role change, ...).
    tokensValidAfter: tstz().notNull().default(sql`'epoch'`),
    // Bumped by every change that ends sessions (logout-all, password change, suspension,
    // an admin's revoke): a refresh token rotates only while it carries the current value,
    // so a session created concurrently with the change dies with it (issue 9 #2).
    sessionGeneration: integer().notNull().default(0),
    lastLoginAt: tstz(),
    createdAt: tstz().notNull().defaultNow(),
    updatedAt: tstz().notNull().defaultNow(),
    // Set when the account's personal data was erased (privacy.deleteAccount, after its
    // grace period): the row stays, anonymised, for the records that point to it.
    deletedAt: tstz(),
    // privacy.deleteAccount: when it was asked for and when the erasure job may run.
    deletionRequestedAt: tstz(),
    deletionDueAt: tstz(),
    // When the address in `email` was confirmed through a link sent to it (NULL: not yet).
    emailVerifiedAt: tstz(),
  },
  (t) => [
    // Also the email sort of admin.users.list (server/domain/admin-user-list.ts), as are:
    uniqueIndex('users_email_lower_uq').on(sql`lower(${t.email})`),
    index('users_name_sort_idx').on(sql`lower(${t.name})`, t.id),
    index('users_created_sort_idx').on(t.createdAt, t.id),
    // "Any part of the email or name" (LIKE '%…%'): pg_trgm (created by migrations/0004).
    // fastupdate off: with GIN's pending list, every search re-read up to 4 MB of entries
    // not yet merged (after a bulk load, 200 ms per search at 1,000,000 users).
    index('users_email_trgm_idx')
      .using('gin', sql`lower(${t.email}) gin_trgm_ops`)
      .with({ fastupdate: false }),
    index('users_name_trgm_idx').using('gin', sql`lower(${t.name}) gin_trgm_ops`).with({ fastupdate: false }),
    // The role and status filters, in each sort order: a filtered page walks only the
    // filtered users' range of its order, and ends there when nothing more matches. The
    // columns after id change no order (id is unique): they are what the walk reads besides
    // the key (the sort text, status, deleted_at), so it is an index-only scan. A page whose
    // other filter rejects most of the role (role + plan: 10,000 therapists, none premium)
    // probes each user of the role without a heap fetch per user (25 ms less at 1M users).
    index('users_role_created_idx').on(t.roleId, t.createdAt, t.id, t.status, t.deletedAt),
    index('users_role_email_idx').on(t.roleId, sql`lower(${t.email})`, t.id, t.email, t.status, t.deletedAt),
    index('users_role_name_idx').on(t.roleId, sql`lower(${t.name})`, t.id, t.name, t.status, t.deletedAt),
    // therapists.list: the active therapists of one role, already in page order (name, id).
    index('users_directory_idx')
      .on(t.roleId, t.name, t.id)
      .where(sql`${t.status} = 'active' AND ${t.deletedAt} IS NULL`),
    index('users_suspended_created_idx').on(t.createdAt, t.id).where(sql`${t.status} = 'suspended'`),
    index('users_suspended_email_idx').on(sql`lower(${t.email})`, t.id).where(sql`${t.status} = 'suspended'`),
    index('users_suspended_name_idx').on(sql`lower(${t.name})`, t.id).where(sql`${t.status} = 'suspended'`),
    // The pending-account clean-up (server/jobs): unconfirmed registrations, oldest first.
    index('users_pending_created_idx').on(t.createdAt).where(sql`${t.status} = 'pending'`),
    // Revocation state is reloaded by "tokens_valid_after > now() - access TTL".
    index('users_tokens_valid_after_idx').on(t.tokensValidAfter),
    index('users_deletion_due_idx').on(t.deletionDueAt).where(sql`${t.deletionDueAt} IS NOT NULL`),
    check('users_email_format', sql`${t.email} ~ '^[^@\\s]+@[^@\\s]+$' AND length(${t.email}) <= 254`),
    check('users_name_length', sql`length(${t.name}) BETWEEN 1 AND 100`),
    check('users_status_valid', sql`${t.status} IN ('active', 'suspended', 'pending')`),
    check('users_failed_logins_nonnegative', sql`${t.failedLogins} >= 0`),
  ],
);

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: uuid().primaryKey().defaultRandom(),
    // One subscription row per user: the plan they are on now.
    userId: uuid()
      .notNull()
      .unique()
      .references(() => users.id, { onDelete: 'cascade' }),
    planId: smallint()
      .notNull()
      .references(() => plans.id),
    status: text({ enum: ['active', 'cancelled', 'past_due', 'expired'] })
      .notNull()
      .default('active'),
    // NULL: no end (free, or an admin grant). A paid period ends here; the expiry job then
    // sets status 'expired', and claims treat a past end as not active even before it runs.
    currentPeriodEnd: tstz(),
    // subscriptions.cancel: the plan stays until currentPeriodEnd and is not renewed.
    cancelAtPeriodEnd: boolean().notNull().default(false),
    createdAt: tstz().notNull().defaultNow(),
    updatedAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    index('subscriptions_plan_idx').on(t.planId),
    // admin.users.list's plan filter: "is this user on plan X now" answered from the index.
    index('subscriptions_active_plan_user_idx').on(t.planId, t.userId).where(sql`${t.status} = 'active'`),
    index('subscriptions_period_end_idx')
      .on(t.currentPeriodEnd)
      .where(sql`${t.status} = 'active' AND ${t.currentPeriodEnd} IS NOT NULL`),
    check('subscriptions_status_valid', sql`${t.status} IN ('active', 'cancelled', 'past_due', 'expired')`),
  ],
);

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // SHA-256 (hex) of the opaque token; the token itself is never stored.
    tokenHash: text().notNull(),
    familyId: uuid().notNull(),
    parentId: uuid(),
    // users.session_generation when the session began; a different value → refused.
    sessionGeneration: integer().notNull().default(0),
    createdAt: tstz().notNull().defaultNow(),
    expiresAt: tstz().notNull(),
    usedAt: tstz(),
    revokedAt: tstz(),
    userAgent: text(),
    ip: text(),
  },
  (t) => [
    uniqueIndex('refresh_tokens_hash_uq').on(t.tokenHash),
    index('refresh_tokens_family_idx').on(t.familyId),
    index('refresh_tokens_user_idx').on(t.userId),
    index('refresh_tokens_expires_idx').on(t.expiresAt),
    index('refresh_tokens_revoked_idx').on(t.revokedAt).where(sql`${t.revokedAt} IS NOT NULL`),
    check('refresh_tokens_hash_format', sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
  ],
);

/** Partitioned by month of `at` (migration 0031): the primary key includes it. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint({ mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    at: tstz().notNull().defaultNow(),
    actorId: uuid(),
    action: text().notNull(),
    targetId: uuid(),
    ip: text(),
    details: jsonb().$type<Record<string, unknown>>(),
    /** The request that did it (audited reads carry it; issue 15). */
    requestId: text(),
  },
  (t) => [
    primaryKey({ name: 'audit_log_pkey', columns: [t.id, t.at] }),
    index('audit_log_at_idx').on(t.at),
    index('audit_log_actor_idx').on(t.actorId, t.id),
    // The admin console's target filter, data export and the erasure job: the entries about a user.
    index('audit_log_target_idx').on(t.targetId, t.id),
    index('audit_log_action_idx').on(t.action, t.id),
  ],
);

/**
 * Single-use tokens sent by email: a password reset (30 min) or the confirmation of an
 * address (the account's, or the new one of users.changeEmail). Only the SHA-256 of the
 * token is stored; `email` is the address it was sent to (for a change: the new address).
 */
export const accountTokens = pgTable(
  'account_tokens',
  {
    tokenHash: text().primaryKey(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text({ enum: ['password_reset', 'verify_email', 'change_email'] }).notNull(),
    email: text().notNull(),
    createdAt: tstz().notNull().defaultNow(),
    expiresAt: tstz().notNull(),
    usedAt: tstz(),
  },
  (t) => [
    index('account_tokens_user_idx').on(t.userId, t.purpose),
    index('account_tokens_expires_idx').on(t.expiresAt),
    check('account_tokens_hash_format', sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
    check(
      'account_tokens_purpose_valid',
      sql`${t.purpose} IN ('password_reset', 'verify_email', 'change_email')`,
    ),
  ],
);
