// Database client factory: Drizzle on postgres.js when DATABASE_URL is set, Drizzle on the
// embedded PGlite under DATA_DIR when it is not (a development dependency, imported only
// then: the production image has no PGlite). Every SQL statement is counted per
// procedure (queryScope, read by the call pipeline in server/trpc/invoke.ts) so "zero queries for auth" is observable, not asserted.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import type { Logger } from 'drizzle-orm/logger';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { z } from 'zod';
import { acquireEmbeddedLock } from './embedded-lock.ts';
import * as schema from './schema/index.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle, usable wherever a Db is. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Executor = Db | Tx;

/** A read replica's pool (db/replicas.ts routes read-only calls to it). */
export interface Replica {
  name: string;
  db: Db;
  pg: postgres.Sql;
}

// One level below the repository root both here (db/) and in the build (dist/).
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../migrations', import.meta.url));
/** Transaction advisory lock that serializes migrators (a single bigint key: apart from the jobs' (int, int) keys). */
export const MIGRATION_LOCK_KEY = 360_360_000;

/**
 * What sits between the API and PostgreSQL (DATABASE_POOLER). 'transaction': a pooler in
 * transaction mode (PgBouncer pool_mode=transaction), which hands a server connection to a
 * client for one transaction only: no named prepared statements, no session settings sent
 * at connect (docs/decisions/transaction-pooler.md).
 */
export type Pooler = 'none' | 'transaction';

/** The session settings every connection should have (sent at connect, or database defaults). */
export const SESSION_SETTINGS = {
  statement_timeout: 30_000,
  lock_timeout: 10_000,
  idle_in_transaction_session_timeout: 60_000,
} as const;

/** Counts SQL statements for whatever async scope (a procedure call) is running them. */
export interface QueryScope {
  queries: number;
  /** Work no caller asked for (a timer's resync or poll: inBackground), not a request's statements. */
  background?: boolean;
}
export const queryScope = new AsyncLocalStorage<QueryScope>();
/**
 * Runs fn as background work (a resync or poll on a timer): its statements are counted in a
 * scope of their own, marked `background`, so listeners that count a request's statements
 * (tests, benchmarks) can tell them from the request's.
 */
export function inBackground<T>(fn: () => Promise<T>): Promise<T> {
  return queryScope.run({ queries: 0, background: true }, fn);
}
/** A statement as Drizzle sends it (its text and parameters), for tools such as bench:explain. */
export interface Statement {
  sql: string;
  params: unknown[];
}
type QueryListener = (scope: QueryScope | undefined, statement: Statement) => void;
const listeners = new Set<QueryListener>();
/** Called for every statement (metrics subscribe here). Returns an unsubscribe function. */
export function onQuery(listener: QueryListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
const countingLogger: Logger = {
  logQuery(query: string, params: unknown[]) {
    const scope = queryScope.getStore();
    if (scope) scope.queries += 1;
    for (const l of listeners) l(scope, { sql: query, params });
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
  /**
   * PGlite only: start from this dump of a data directory (Database.dumpDataDir) instead of
   * an empty cluster (tests load one migrated template rather than migrating every file).
   */
  loadDataDir?: Blob | undefined;
  poolMax?: number;
  applicationName?: string;
  /** Longest wait for a pooled connection before PoolBusyError (default 1000 ms). */
  poolWaitMs?: number;
  /** Longest wait for a statement or transaction before DatabaseDeadlineError (default: none). */
  callTimeoutMs?: number;
  /** Read replicas (db/replicas.ts routes reads to them). Ignored without url. */
  replicaUrls?: string[];
  /** DATABASE_POOLER (default 'none': a direct connection or a session-mode pooler). */
  pooler?: Pooler;
}

/**
 * COMMIT answered ROLLBACK: the transaction had been aborted (PostgreSQL ends an aborted
 * transaction this way without an error). Its writes are gone; the caller must fail.
 */
export class TransactionNotCommittedError extends Error {
  constructor(answer: string) {
    super(`the transaction did not commit (COMMIT answered ${answer || 'nothing'})`);
    this.name = 'TransactionNotCommittedError';
  }
}

/**
 * Commits the transaction `tx` and throws unless PostgreSQL answered COMMIT. postgres.js's
 * sql.begin sends its own COMMIT after the callback without reading the answer, and
 * retries a statement whose cached prepared statement vanished (a transaction pooler's
 * next server connection) — a retried COMMIT in the then aborted transaction answers
 * ROLLBACK, which sql.begin took for success: acknowledged writes were lost. So the
 * commit happens here, read; the BEGIN pipelined after it gives sql.begin's COMMIT an
 * empty transaction to end (instead of a "no transaction in progress" warning).
 */
export async function commitOrThrow(tx: postgres.TransactionSql): Promise<void> {
  const [commit] = await Promise.all([
    tx.unsafe('COMMIT', [], { prepare: false }),
    tx.unsafe('BEGIN', [], { prepare: false }),
  ]);
  if (commit.command !== 'COMMIT') throw new TransactionNotCommittedError(commit.command);
}

/** No pooled connection became free within the wait: the caller answers 503. */
export class PoolBusyError extends Error {
  readonly pool: string;
  readonly waitedMs: number;
  constructor(pool: string, waitedMs: number) {
    super(`no database connection free in pool ${pool} within ${waitedMs} ms`);
    this.name = 'PoolBusyError';
    this.pool = pool;
    this.waitedMs = waitedMs;
  }
}

/**
 * A statement or transaction ran past the call deadline (DATABASE_CALL_TIMEOUT_MS): a server
 * that does not answer (a paused pooler, a crashed host whose connections hang). The caller
 * answers 503 with Retry-After; the work itself may still finish (an in-doubt write: the
 * Idempotency-Key makes its retry safe).
 */
export class DatabaseDeadlineError extends Error {
  readonly pool: string;
  constructor(pool: string, deadlineMs: number) {
    super(`no answer from the database (pool ${pool}) within ${deadlineMs} ms`);
    this.name = 'DatabaseDeadlineError';
    this.pool = pool;
  }
}

const exemptFromDeadline = new AsyncLocalStorage<true>();
/** A permit is taken back from work unsettled this many deadlines after it started (PoolGate.run). */
export const RECLAIM_FACTOR = 2;
/** The same for work without a deadline (scheduled jobs): past any statement_timeout a job sets. */
export const RECLAIM_EXEMPT_MS = 120_000;
/**
 * Runs fn without the call deadline: scheduled jobs (a view refresh may take minutes; only
 * statement_timeout bounds it). Requests keep theirs.
 */
export function withoutDeadline<T>(fn: () => Promise<T>): Promise<T> {
  return exemptFromDeadline.run(true, fn);
}

/**
 * A counting semaphore sized to a postgres.js pool. postgres.js queues queries without
 * limit when every connection is busy; the gate bounds that wait. A permit is taken only
 * when a statement or transaction actually runs, so procedures that make no query pay
 * nothing. inUse/waiting are the pool figures /metrics shows.
 */
export class PoolGate {
  inUse = 0;
  timeouts = 0;
  /** Calls answered DatabaseDeadlineError. */
  deadlines = 0;
  /** Permits taken back from work that never ended (see run). */
  reclaimed = 0;
  private readonly queue: Array<() => void> = [];
  /** The release of every permit held now (reclaimAll). */
  private readonly held = new Set<() => void>();
  readonly name: string;
  readonly size: number;
  readonly waitMs: number;
  /** Longest a statement or transaction is waited for once it has a connection (0: no bound). */
  readonly deadlineMs: number;
  constructor(name: string, size: number, waitMs: number, deadlineMs = 0) {
    this.name = name;
    this.size = size;
    this.waitMs = waitMs;
    this.deadlineMs = deadlineMs;
  }

  get waiting(): number {
    return this.queue.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inUse < this.size) this.inUse += 1;
    else await this.wait();
    const deadline = exemptFromDeadline.getStore() ? 0 : this.deadlineMs;
    // The permit goes back when the work really ends, also after the deadline let the
    // caller go: the connection is busy until then. But not later than RECLAIM_FACTOR × the
    // deadline (RECLAIM_EXEMPT_MS without one): postgres.js leaves a query unsettled for
    // good when its connection breaks mid-write (porsager/postgres#1208; every PostgreSQL
    // crash behind PgBouncer in issue 24's topology run), and a few such permits held
    // forever shut the gate (every query PoolBusyError, /readyz unavailable, the host out
    // of the balancer until restarted). Work still running by then (past statement_timeout)
    // only waits in postgres.js's own queue, under its caller's deadline.
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.held.delete(reclaimNow);
      this.release();
    };
    const reclaimNow = () => {
      if (released) return;
      this.reclaimed += 1;
      release();
    };
    this.held.add(reclaimNow);
    const reclaim = setTimeout(reclaimNow, deadline ? deadline * RECLAIM_FACTOR : RECLAIM_EXEMPT_MS);
    reclaim.unref();
    const work = fn().finally(() => {
      clearTimeout(reclaim);
      release();
    });
    if (!deadline) return await work;
    work.catch(() => {}); // after the deadline nobody awaits it
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            this.deadlines += 1;
            reject(new DatabaseDeadlineError(this.name, deadline));
          }, deadline);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every permit held now comes back (their work ran on a client that was just replaced). */
  reclaimAll(): void {
    for (const reclaimNow of [...this.held]) reclaimNow();
  }

  private wait(): Promise<void> {
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(); // the permit passes straight from the releaser: inUse stays the same
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(grant);
        if (i >= 0) this.queue.splice(i, 1);
        this.timeouts += 1;
        reject(new PoolBusyError(this.name, this.waitMs));
      }, this.waitMs);
      this.queue.push(grant);
    });
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.inUse -= 1;
  }
}

/** The postgres.js client as Drizzle sees it: every statement and transaction takes a gate permit. */
function gatedClient(pg: postgres.Sql, gate: PoolGate): postgres.Sql {
  // Drizzle only awaits unsafe(...) or unsafe(...).values(), and calls begin() for a
  // transaction (whose statements then run on the reserved connection, outside the gate).
  const unsafe = (query: string, params?: unknown[], opts?: postgres.UnsafeQueryOptions) => {
    const run = (values: boolean) =>
      gate.run(async () => {
        const q = pg.unsafe(query, params as postgres.ParameterOrJSON<never>[], opts);
        return values ? await q.values() : await q;
      });
    return {
      values: () => run(true),
      // biome-ignore lint/suspicious/noThenProperty: Drizzle awaits the query object itself
      then: <A, B>(ok?: (v: unknown) => A, fail?: (e: unknown) => B) => run(false).then(ok, fail),
    };
  };
  // Every transaction ends with a verified COMMIT (commitOrThrow).
  const begin = (...args: unknown[]) => {
    const fn = args.pop() as (tx: postgres.TransactionSql) => Promise<unknown>;
    const options = (args[0] as string | undefined) ?? '';
    return gate.run(() =>
      pg.begin(options, async (tx) => {
        const result = await fn(tx);
        await commitOrThrow(tx);
        return result;
      }),
    );
  };
  return new Proxy(pg, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') return unsafe;
      if (prop === 'begin') return begin;
      return Reflect.get(target, prop, receiver);
    },
  });
}

export type DbErrorKind = 'pool_busy' | 'statement_timeout' | 'connection' | 'invalid_text';

/**
 * What kind of infrastructure failure an error is (through Drizzle's wrapping), so the
 * API can answer 503/504 with a clean message instead of a 500 that logs SQL.
 */
export function classifyDbError(err: unknown): DbErrorKind | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    if (e instanceof PoolBusyError) return 'pool_busy';
    // The write did not happen; the client may retry it (503), never read it as done.
    if (e instanceof TransactionNotCommittedError) return 'connection';
    // No answer in time: the database is as good as away (503); the write is in doubt.
    if (e instanceof DatabaseDeadlineError) return 'connection';
    const code = (e as { code?: unknown }).code;
    if (code === '57014') return 'statement_timeout';
    // 22021: text Postgres cannot store (a NUL byte in a string input).
    if (code === '22021') return 'invalid_text';
    if (
      typeof code === 'string' &&
      (/^(08|57P)/.test(code) ||
        /^(CONNECTION_(CLOSED|ENDED|DESTROYED)|CONNECT_TIMEOUT|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT)$/.test(
          code,
        ))
    )
      return 'connection';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface Database {
  db: Db;
  /** The read replicas (DATABASE_REPLICA_URLS); server/create-services.ts routes reads to them. */
  replicas?: Replica[];
  kind: 'postgres' | 'pglite';
  /** Connection gates (primary first, then replicas): in-use and waiting for /metrics. */
  pools?: PoolGate[];
  /** Apply pending migrations (drizzle journal in migrations/). */
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The postgres.js client (undefined on PGlite): pool stats, LISTEN, raw admin work. */
  pg?: postgres.Sql;
  /**
   * New postgres.js clients under every holder (Drizzle, the job queue, the read router),
   * the old ones destroyed and their permits given back: after postgres.js broke a
   * connection mid-write (server/process-faults.ts), whose queries never settle.
   */
  replaceClients?(): void;
  /** PGlite only: the whole data directory as a gzipped tarball (DatabaseOptions.loadDataDir). */
  dumpDataDir?(): Promise<Blob>;
  /** The embedded PGlite client (undefined on PostgreSQL): the job queue's connection. */
  pglite?: PGlite;
}

export function postgresOptions(
  poolMax = 50,
  applicationName = 'manas360-api',
  pooler: Pooler = 'none',
): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    max: poolMax,
    idle_timeout: 30,
    connect_timeout: 10,
    // Seconds before connecting again after failures. postgres.js's default grows 3^n (up to
    // 20 s), so after a restart of a few seconds a host could wait 5-7 s more before its next
    // try; at most 0.5 s apart, a host writes again within a second of the database (issue 24).
    backoff: (retries: number) => Math.min(0.1 * retries, 0.5),
    onnotice: () => {},
    // Behind a transaction pooler: unnamed statements only (a named one lives on one server
    // connection), and no session settings at connect (PgBouncer refuses them as
    // "unsupported startup parameter"; they are database defaults, set by a migration).
    ...(pooler === 'transaction'
      ? { prepare: false, connection: { application_name: applicationName } }
      : { connection: { application_name: applicationName, ...SESSION_SETTINGS } }),
  };
}

/**
 * PgBouncer refuses a connection that sends session settings it does not know; say which
 * setting the operator is missing instead of passing that message on.
 */
export function explainPoolerError(err: unknown): Error {
  // Drizzle wraps the driver's error ("Failed query: ..."): the pooler's words are in its cause.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/unsupported startup parameter/i.test(message))
    return new Error(
      `DATABASE_URL points at a transaction pooler (${message}): set DATABASE_POOLER=transaction`,
    );
  return err as Error;
}

/**
 * Whether DATABASE_URL leads to a pooler in transaction mode although DATABASE_POOLER is
 * not set: a session setting made by one statement is gone (or another client's) at the
 * next statement of the same client connection, or the backend changed under it. Best
 * effort (a quiet pooler may hand the same server connection back each time); a direct
 * connection never shows either.
 */
export async function detectTransactionPooler(url: string): Promise<boolean> {
  const probe = postgres(url, { max: 2, prepare: false, onnotice: () => {}, connect_timeout: 10 });
  try {
    const [a, b] = [await probe.reserve(), await probe.reserve()];
    try {
      for (let round = 0; round < 5; round++) {
        const mark = `${process.pid}-${round}-${Math.random()}`;
        const [first] =
          await a`SELECT pg_backend_pid() AS pid, set_config('manas360.probe', ${mark}, false) AS v`;
        await b`SELECT set_config('manas360.probe', 'other', false)`;
        const [again] = await a`SELECT pg_backend_pid() AS pid, current_setting('manas360.probe', true) AS v`;
        if (again!.pid !== first!.pid || again!.v !== mark) return true;
      }
      return false;
    } finally {
      a.release();
      b.release();
    }
  } catch (err) {
    throw explainPoolerError(err);
  } finally {
    await probe.end({ timeout: 5 });
  }
}

/**
 * A postgres.js client whose holders keep one reference while replace() puts a new client
 * under it and destroys the old one (its queries fail with CONNECTION_DESTROYED; those a
 * broken connection left unsettled are given up on).
 */
function replaceableClient(make: () => postgres.Sql): { pg: postgres.Sql; replace(): void } {
  let current = make();
  const pg = new Proxy((() => {}) as unknown as postgres.Sql, {
    apply: (_target, _this, args) => Reflect.apply(current as unknown as () => unknown, undefined, args),
    get: (_target, prop) => {
      const value = Reflect.get(current, prop);
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
  return {
    pg,
    replace() {
      const old = current;
      const fresh = make();
      // The array types the old client fetched: postgres.js fetches them on a connection's
      // first start and does not try again when that fails (the database still away), so a
      // new client would return arrays as text (test/faults/db-restart.test.ts saw it).
      type Types = { parsers: object; serializers: object; shared: { typeArrayMap: object } };
      const [from, to] = [old.options as unknown as Types, fresh.options as unknown as Types];
      Object.assign(to.parsers, from.parsers);
      Object.assign(to.serializers, from.serializers);
      Object.assign(to.shared.typeArrayMap, from.shared.typeArrayMap);
      current = fresh;
      old.end({ timeout: 0 }).catch(() => {});
    },
  };
}

function gatedDrizzle(url: string, name: string, opts: DatabaseOptions, connectTimeout?: number) {
  const poolMax = opts.poolMax ?? 50;
  const client = replaceableClient(() =>
    postgres(url, {
      ...postgresOptions(poolMax, opts.applicationName, opts.pooler),
      ...(connectTimeout ? { connect_timeout: connectTimeout } : {}),
    }),
  );
  const pg = client.pg;
  const gate = new PoolGate(name, poolMax, opts.poolWaitMs ?? 1000, opts.callTimeoutMs ?? 0);
  const db = drizzlePostgres({
    client: gatedClient(pg, gate),
    schema,
    casing: 'snake_case',
    logger: countingLogger,
  });
  const replace = () => {
    client.replace();
    gate.reclaimAll();
  };
  return { pg, gate, db, replace };
}

export async function createDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.url) {
    const primary = gatedDrizzle(opts.url, 'primary', opts);
    const { pg, gate, db } = primary;
    // A replica that does not answer is given up on quickly (2 s): the read goes to the primary.
    const replicas = (opts.replicaUrls ?? []).map((u, i) =>
      gatedDrizzle(
        u,
        `replica${i}`,
        { ...opts, applicationName: `${opts.applicationName ?? 'manas360-api'}-replica` },
        2,
      ),
    );
    return {
      db: ambientAware(db),
      replicas: replicas.map((r) => ({ name: r.gate.name, db: r.db, pg: r.pg })),
      kind: 'postgres',
      pg,
      pools: [gate, ...replicas.map((r) => r.gate)],
      replaceClients() {
        for (const c of [primary, ...replicas]) c.replace();
      },
      async migrate() {
        // One transaction: a transaction advisory lock (so it works through a transaction
        // pooler too), then drizzle's migrator inside it. Two migrators at once (two deploys,
        // two replicas of a release job) take turns: the second waits on the lock, then finds
        // nothing left to apply. No statement or lock timeout: a migration may take longer.
        const one = postgres(opts.url!, postgresOptions(1, 'manas360-migrate', opts.pooler));
        try {
          await one.begin(async (tx) => {
            await tx.unsafe('SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0').simple();
            await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
            // drizzle's migrator opens a transaction of its own: here, a savepoint of this one
            // (and drizzle reads the client's type parsers from the pool's options).
            const client = new Proxy(tx, {
              get: (target, prop, receiver) =>
                prop === 'begin'
                  ? target.savepoint.bind(target)
                  : prop === 'options'
                    ? one.options
                    : Reflect.get(target, prop, receiver),
            }) as unknown as postgres.Sql;
            await migratePostgres(drizzlePostgres({ client, casing: 'snake_case' }), {
              migrationsFolder: MIGRATIONS_FOLDER,
            });
            await commitOrThrow(tx);
          });
        } catch (err) {
          throw explainPoolerError(err);
        } finally {
          await one.end({ timeout: 5 });
        }
      },
      // Through the gate like any query: a flood of probes cannot take connections the
      // gate believes free (it waits its turn and fails with PoolBusyError instead).
      async ping() {
        try {
          await db.execute(sql`select 1`);
        } catch (err) {
          throw explainPoolerError(err);
        }
      },
      async close() {
        await Promise.all([pg, ...replicas.map((r) => r.pg)].map((c) => c.end({ timeout: 5 })));
      },
    };
  }
  let dataDir: string | undefined;
  let releaseLock = () => {};
  if (!opts.memory) {
    const root = opts.dataDir ?? './.data';
    dataDir = `${root}/pglite`;
    mkdirSync(dataDir, { recursive: true });
    // Before PGlite touches a file: a second process on these files corrupts them.
    releaseLock = acquireEmbeddedLock(root);
  }
  try {
    return await openPglite(dataDir, releaseLock, opts.loadDataDir);
  } catch (err) {
    releaseLock();
    throw err;
  }
}

async function openPglite(
  dataDir: string | undefined,
  releaseLock: () => void,
  loadDataDir: Blob | undefined,
): Promise<Database> {
  // PGlite is a development dependency: imported only here (production sets DATABASE_URL).
  const [{ PGlite }, { pg_trgm }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all(
    [
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite/contrib/pg_trgm'),
      import('drizzle-orm/pglite'),
      import('drizzle-orm/pglite/migrator'),
    ],
  ).catch((err: unknown) => {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new Error(
      'DATABASE_URL is not set and the embedded database (PGlite, a development dependency) is not installed',
    );
  });
  // pg_trgm: the admin user list's substring search (migrations create the extension).
  const client = new PGlite({ dataDir, extensions: { pg_trgm }, ...(loadDataDir ? { loadDataDir } : {}) });
  const db = drizzlePglite({ client, schema, casing: 'snake_case', logger: countingLogger });
  return {
    db: ambientAware(db),
    kind: 'pglite',
    pglite: client,
    async migrate() {
      await migratePglite(drizzlePglite({ client, casing: 'snake_case' }), {
        migrationsFolder: MIGRATIONS_FOLDER,
      });
    },
    async ping() {
      await client.query('select 1');
    },
    dumpDataDir: () => client.dumpDataDir('gzip'),
    async close() {
      if (!client.closed) await client.close();
      releaseLock();
    },
  };
}

/**
 * The symbol a routing Db (the replica router, the ambient transaction) answers with the
 * database it currently stands for: prepared statements (db/prepared.ts) belong to that one.
 */
export const CURRENT_DB = Symbol('currentDb');

const ambient = new AsyncLocalStorage<{ tx: Executor; open: boolean }>();
/**
 * Runs fn with `tx` as the ambient transaction: every statement made through a Database's
 * `db` in fn's async scope (deps.db, whatever code holds it) runs in tx instead, and a
 * `db.transaction()` there becomes a savepoint of it. server/idempotency.ts wraps a
 * mutation this way, so its writes and its stored result commit together.
 */
export async function withAmbientTransaction<T>(tx: Executor, fn: () => Promise<T>): Promise<T> {
  // Closed when fn ends: work that outlives it in the same async context (a promise a
  // driver's queue created meanwhile) goes to the database again, not to a closed transaction.
  const store = { tx, open: true };
  try {
    return await ambient.run(store, fn);
  } finally {
    store.open = false;
  }
}

/** `db`, but the ambient transaction (withAmbientTransaction) where there is one. */
function ambientAware(db: Db): Db {
  return new Proxy(db, {
    get(target, prop, receiver) {
      const store = ambient.getStore();
      if (!store?.open) return Reflect.get(target, prop, receiver);
      const tx = store.tx;
      if (prop === CURRENT_DB) return tx;
      const value = Reflect.get(tx, prop, tx);
      return typeof value === 'function' ? value.bind(tx) : value;
    },
  });
}

/** A raw statement returned a row its schema does not describe: a bug, answered as a 500. */
export class RowShapeError extends Error {
  constructor(issues: readonly { path: readonly PropertyKey[]; message: string }[]) {
    // Paths and messages only: a row's values may be health data.
    super(
      `row shape: ${issues.map((i) => `${i.path.map(String).join('.') || '(row)'}: ${i.message}`).join('; ')}`,
    );
    this.name = 'RowShapeError';
  }
}

/**
 * Runs raw SQL and returns its rows, whichever driver is underneath, each checked (and
 * read: see db/row.ts for the types the two drivers return differently) by `row`, a zod
 * schema of one row. Columns the schema does not name are dropped.
 */
export async function queryRows<S extends z.ZodType>(
  db: Executor,
  row: S,
  query: SQL,
): Promise<z.output<S>[]> {
  const res = (await db.execute(query)) as unknown;
  const rows = (Array.isArray(res) ? res : ((res as { rows?: unknown[] }).rows ?? [])) as unknown[];
  const out: z.output<S>[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const parsed = row.safeParse(rows[i]);
    if (!parsed.success) throw new RowShapeError(parsed.error.issues);
    out[i] = parsed.data;
  }
  return out;
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
  detail?: string;
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
