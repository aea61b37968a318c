// Idempotency-Key (server/idempotency.ts): a mutation's first result, stored in the same
// transaction as its writes, per caller, key and procedure, until it expires. A retry with
// the same key gets this result instead of writing again.
import { sql } from 'drizzle-orm';
import { check, index, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { tstz } from './columns.ts';
import { users } from './users.ts';

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text().notNull(),
    procedure: text().notNull(),
    /** SHA-256 of the call's input: the same key with another input is refused. */
    requestHash: text().notNull(),
    /** The result as the wire transformer (superjson) serializes it; null until the call succeeded (same transaction). */
    response: text(),
    createdAt: tstz().notNull().defaultNow(),
    expiresAt: tstz().notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.key, t.procedure] }),
    index('idempotency_keys_expires_idx').on(t.expiresAt),
    check('idempotency_keys_key_length', sql`length(${t.key}) BETWEEN 1 AND 255`),
  ],
);
