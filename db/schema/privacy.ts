// Privacy rights: which version of the privacy notice a user accepted and when, and the
// per-user data keys that seal session notes (destroying one makes the notes unreadable).
import { bigint, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

const tstz = () => timestamp({ withTimezone: true, mode: 'date' });

/** Every acceptance of a privacy notice version (the latest one is in the user's claims). */
export const privacyConsents = pgTable(
  'privacy_consents',
  {
    id: bigint({ mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    noticeVersion: text().notNull(),
    acceptedAt: tstz().notNull().defaultNow(),
    ip: text(),
  },
  (t) => [index('privacy_consents_user_idx').on(t.userId, t.acceptedAt.desc(), t.id.desc())],
);

/**
 * A user's data key (32 random bytes) wrapped with the notes key `keyId` (AES-256-GCM,
 * the user id as associated data). Session notes about the user are sealed with it; the
 * erasure job deletes the row (crypto-shredding).
 */
export const userDataKeys = pgTable('user_data_keys', {
  userId: uuid()
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  keyId: text().notNull(),
  wrappedKey: text().notNull(),
  createdAt: tstz().notNull().defaultNow(),
});
