// Database client factory: Drizzle on postgres.js when DATABASE_URL is set, Drizzle on the
// embedded PGlite under DATA_DIR when it is not. Every SQL statement is counted per
// procedure (see queryCounter) so "zero queries for auth" is observable, not asserted.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { Logger } from 'drizzle-orm/logger';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema/index.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle, usable wherever a Db is. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Executor = Db | Tx;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../migrations', import.meta.url));

/** Counts SQL statements for whatever async scope (a procedure call) is running them. */
export interface QueryScope {
  queries: number;
}
export const queryScope = new AsyncLocalStorage<QueryScope>();
type QueryListener = (scope: QueryScope | undefined) => void;
const listeners = new Set<QueryListener>();
/** Called for every statement (metrics subscribe here). Returns an unsubscribe function. */
export function onQuery(listener: QueryListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
const countingLogger: Logger = {
  logQuery() {
    const scope = queryScope.getStore();
    if (scope) scope.queries += 1;
    for (const l of listeners) l(scope);
  },
};
/** Runs fn and returns its result with the number of SQL statements it issued. */
export async function countQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: number }> {
  const scope: QueryScope = { queries: 0 };
  const result = await queryScope.run(scope, fn);
  return { result, queries: scope.queries };
}

export interface DatabaseOptions {
  url?: string | undefined;
  dataDir?: string | undefined;
  /** In-memory PGlite (tests). Ignored when url is set. */
  memory?: boolean;
  poolMax?: number;
  applicationName?: string;
}

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Apply pending migrations (drizzle journal in migrations/). */
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The postgres.js client (undefined on PGlite): pool stats, LISTEN, raw admin work. */
  pg?: postgres.Sql;
}

export function postgresOptions(
  poolMax = 50,
  applicationName = 'manas360-api',
): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    max: poolMax,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: {
      application_name: applicationName,
      statement_timeout: 30_000,
      lock_timeout: 10_000,
      idle_in_transaction_session_timeout: 60_000,
    },
  };
}

export async function createDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.url) {
    const pg = postgres(opts.url, postgresOptions(opts.poolMax, opts.applicationName));
    const db = drizzlePostgres({ client: pg, schema, casing: 'snake_case', logger: countingLogger });
    return {
      db,
      kind: 'postgres',
      pg,
      async migrate() {
        // A dedicated single connection, as drizzle recommends for migrations.
        const one = postgres(opts.url!, { ...postgresOptions(1, 'manas360-migrate'), max: 1 });
        try {
          await migratePostgres(drizzlePostgres({ client: one, casing: 'snake_case' }), {
            migrationsFolder: MIGRATIONS_FOLDER,
          });
        } finally {
          await one.end({ timeout: 5 });
        }
      },
      async ping() {
        await pg`select 1`;
      },
      async close() {
        await pg.end({ timeout: 5 });
      },
    };
  }
  let dataDir: string | undefined;
  if (!opts.memory) {
    dataDir = `${opts.dataDir ?? './.data'}/pglite`;
    mkdirSync(dataDir, { recursive: true });
  }
  const client = new PGlite(dataDir);
  const db = drizzlePglite({ client, schema, casing: 'snake_case', logger: countingLogger });
  return {
    db,
    kind: 'pglite',
    async migrate() {
      await migratePglite(drizzlePglite({ client, casing: 'snake_case' }), {
        migrationsFolder: MIGRATIONS_FOLDER,
      });
    },
    async ping() {
      await client.query('select 1');
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<T>(db: Executor, query: SQL): Promise<T[]> {
  const res = (await db.execute(query)) as unknown;
  if (Array.isArray(res)) return res as T[];
  return ((res as { rows?: T[] }).rows ?? []) as T[];
}

/** The unique-violation constraint name of a database error, if that is what it is. */
export function uniqueViolation(err: unknown): string | undefined {
  const e = findPgError(err);
  return e?.code === '23505' ? (e.constraint ?? e.constraint_name ?? 'unique') : undefined;
}

interface PgErrorLike {
  code?: string;
  constraint?: string;
  constraint_name?: string;
}
/** Drizzle wraps driver errors (DrizzleQueryError.cause); find the Postgres error. */
export function findPgError(err: unknown): PgErrorLike | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    const code = (e as PgErrorLike).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return e as PgErrorLike;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
