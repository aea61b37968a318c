// drizzle-kit configuration: `npm run db:generate` writes SQL migrations from db/schema.
// `npx drizzle-kit migrate` applies them to DATABASE_URL (the app uses scripts/migrate.ts,
// which applies the same files to Postgres or the embedded PGlite).
import type { Config } from 'drizzle-kit';

export default {
  dialect: 'postgresql',
  schema: './db/schema/index.ts',
  out: './migrations',
  casing: 'snake_case',
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
} satisfies Config;
