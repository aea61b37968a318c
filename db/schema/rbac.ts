// The access catalog: roles, permissions, plans and features (seeded by a migration).
import { sql } from 'drizzle-orm';
import { check, integer, pgTable, primaryKey, smallint, smallserial, text } from 'drizzle-orm/pg-core';

export const roles = pgTable(
  'roles',
  {
    id: smallserial().primaryKey(),
    name: text().notNull().unique(),
    privilegeLevel: smallint().notNull(),
  },
  (t) => [
    check('roles_privilege_range', sql`${t.privilegeLevel} BETWEEN 0 AND 100`),
    check('roles_name_format', sql`${t.name} ~ '^[a-z][a-z0-9_]{1,39}$'`),
  ],
);

export const permissions = pgTable(
  'permissions',
  {
    id: smallserial().primaryKey(),
    name: text().notNull().unique(),
  },
  (t) => [check('permissions_name_format', sql`${t.name} ~ '^[a-z_]+\\.[a-z_]+$'`)],
);

export const rolePermissions = pgTable(
  'role_permissions',
  {
    roleId: smallint()
      .notNull()
      .references(() => roles.id, { onDelete: 'cascade' }),
    permissionId: smallint()
      .notNull()
      .references(() => permissions.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.roleId, t.permissionId] })],
);

export const features = pgTable('features', {
  id: smallserial().primaryKey(),
  code: text().notNull().unique(),
  name: text().notNull(),
});

export const plans = pgTable(
  'plans',
  {
    id: smallserial().primaryKey(),
    code: text().notNull().unique(),
    name: text().notNull(),
    pricePaise: integer().notNull(),
    tier: smallint().notNull().unique(),
  },
  (t) => [check('plans_price_nonnegative', sql`${t.pricePaise} >= 0`)],
);

export const planFeatures = pgTable(
  'plan_features',
  {
    planId: smallint()
      .notNull()
      .references(() => plans.id, { onDelete: 'cascade' }),
    featureId: smallint()
      .notNull()
      .references(() => features.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.planId, t.featureId] })],
);
