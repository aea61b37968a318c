// drizzle-kit configuration: `npm run db:generate` writes SQL migrations from db/schema.
// `npx drizzle-kit migrate` (or push, studio) works on DATABASE_URL, or without it on the
// embedded PGlite database the server uses in development (DATA_DIR/pglite), never on a
// server's default database. Reads ./.env when present, as the server does.
import { mkdirSync } from 'node:fs';
import type { Config } from 'drizzle-kit';
import { loadDotEnv } from './server/config.ts';

loadDotEnv();
const url = process.env.DATABASE_URL;
const embedded = `${process.env.DATA_DIR || './.data'}/pglite`;
if (!url) mkdirSync(embedded, { recursive: true });

export default {
  dialect: 'postgresql',
  schema: './db/schema/index.ts',
  out: './migrations',
  casing: 'snake_case',
  ...(url ? { dbCredentials: { url } } : { driver: 'pglite', dbCredentials: { url: embedded } }),
} satisfies Config;
