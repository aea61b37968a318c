// Column builders shared by the schema files.
import { timestamp } from 'drizzle-orm/pg-core';

/** timestamptz read as a Date. */
export const tstz = () => timestamp({ withTimezone: true, mode: 'date' });
