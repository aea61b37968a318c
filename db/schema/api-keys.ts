// Personal API keys (apiKeys.*, auth.exchangeApiKey). The key itself is shown once; only
// its SHA-256 is stored, beside a short visible prefix that identifies it in lists.
import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tstz } from './columns.ts';
import { users } from './users.ts';

export const apiKeys = pgTable(
  'api_keys',
  {
    /** Also the `sid` of the access tokens it is exchanged for: revoking the key revokes them. */
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    prefix: text().notNull(),
    tokenHash: text().notNull(),
    scopes: text().array().notNull(),
    expiresAt: tstz().notNull(),
    lastUsedAt: tstz(),
    revokedAt: tstz(),
    createdAt: tstz().notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('api_keys_hash_uq').on(t.tokenHash),
    index('api_keys_user_idx').on(t.userId, t.createdAt.desc()),
    // Revocation state is reloaded by "revoked_at > now() - access TTL".
    index('api_keys_revoked_idx').on(t.revokedAt).where(sql`${t.revokedAt} IS NOT NULL`),
    check('api_keys_hash_format', sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
    check('api_keys_name_length', sql`length(${t.name}) BETWEEN 1 AND 100`),
    check('api_keys_scopes_count', sql`cardinality(${t.scopes}) BETWEEN 1 AND 100`),
  ],
);
