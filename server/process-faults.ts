// What the process does with an error nothing handled (docs/operations.md, "Errors nothing
// handled"): a promise rejection nobody awaited (`unhandledRejection`) or an exception that
// reached the event loop (`uncaughtException`). Node's default ends the process, and with it
// every request in flight on it: issue 24 saw all three API hosts exit within 2 s of a
// PostgreSQL restart behind PgBouncer, from a rejection inside postgres.js.
//
// The policy:
// - a dependency's error (the database or Redis: a connection refused or closed, a pooler's
//   login error, a statement cancelled) is an outage of that dependency, which the requests
//   already answer with 503: log it (warn), count it, keep serving. The process state is
//   sound: the driver has failed the queries and connects again by itself. The known source
//   is postgres.js 3.4 (porsager/postgres#1192): a new connection's first statement (its
//   array-type lookup) is a promise nobody holds, so its failure (PgBouncer's
//   server_login_retry while PostgreSQL restarts) can be caught nowhere else;
// - any other unhandled rejection is a bug, but an isolated one (a promise's work failed;
//   no synchronous code was cut short half way): log it (error), count it, keep serving;
// - any other uncaught exception may have left shared state half updated: log it (fatal),
//   count it, and shut down gracefully (readiness 503, in-flight requests finish, exit 1
//   within SHUTDOWN_TIMEOUT_MS) for the supervisor (Kubernetes, the cluster primary, the
//   container runtime) to start a fresh process.
// Every event is counted in `process_unhandled_errors_total{kind, dependency}`.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { classifyDbError, findPgError } from '../db/client.ts';

export type UnhandledKind = 'rejection' | 'exception';
export type Dependency = 'database' | 'redis' | 'none';

/**
 * postgres.js 3.4.9 writing a buffered chunk from a setImmediate after its connection closed
 * (porsager/postgres#1154, #1208). Besides the throw, the connection it happened on is left
 * broken: queries given to it never settle (issue 24's topology run: after a PostgreSQL
 * SIGKILL behind PgBouncer, hosts whose every pool permit waited on such a query, for good).
 */
export function brokeDatabaseConnection(err: unknown): boolean {
  return (
    err instanceof TypeError && /\bnextWrite\b[^\n]*postgres[\\/]src[\\/]connection\.js/.test(err.stack ?? '')
  );
}

/** Which dependency an error comes from, or 'none' (our own code: a bug). */
export function dependencyOf(err: unknown): Dependency {
  if (classifyDbError(err) !== undefined || findPgError(err)) return 'database';
  if (err instanceof Error) {
    // postgres.js errors carry their own name even without a SQLSTATE (CONNECTION_ENDED, …).
    if (err.name === 'PostgresError') return 'database';
    // postgres.js 3.4.9 writes a buffered chunk from a setImmediate after its connection
    // closed (the server went away) and throws there, out of any caller's reach
    // (porsager/postgres#1154, #1208: a reserved connection, as the job queue's blocks use,
    // hits it on every database restart). The query was already rejected with
    // CONNECTION_CLOSED and the connection is gone: a database outage, not our bug.
    if (brokeDatabaseConnection(err)) return 'database';
    // ioredis: its error classes, or a socket error on its connections.
    if (/^(ReplyError|RedisError|MaxRetriesPerRequestError|ClusterAllFailedError|AbortError)$/.test(err.name))
      return 'redis';
    if (
      /\b(Connection is closed|Stream isn't writeable|Command timed out|READONLY|LOADING)\b/.test(err.message)
    )
      return 'redis';
  }
  return 'none';
}

export interface ProcessFaultPolicy {
  /** What was done with one event (exported for the tests; the listeners call it). */
  handle(kind: UnhandledKind, err: unknown): 'continue' | 'shutdown';
  /** Removes the listeners (tests). */
  uninstall(): void;
}

/**
 * Installs the listeners. `shutdown` starts the graceful shutdown (server/http/shutdown.ts)
 * with exit code 1; `registry` gets the counter.
 */
export function installProcessFaultPolicy(opts: {
  log: Logger;
  registry?: Registry;
  shutdown: (reason: string) => void;
  /** process by default; tests pass an EventEmitter of their own. */
  target?: NodeJS.EventEmitter;
  /**
   * Called (once for a burst) after postgres.js broke a connection (brokeDatabaseConnection):
   * the server replaces its database clients (Database.replaceClients).
   */
  onBrokenDatabaseClient?: () => void;
}): ProcessFaultPolicy {
  const counter = new Counter({
    name: 'process_unhandled_errors_total',
    help: 'Errors nothing handled: kind (rejection, exception) and the dependency they came from (database, redis, none: a bug)',
    labelNames: ['kind', 'dependency'],
    registers: opts.registry ? [opts.registry] : [],
  });
  let shuttingDown = false;
  let replacing: NodeJS.Timeout | undefined;
  const handle = (kind: UnhandledKind, err: unknown): 'continue' | 'shutdown' => {
    const dependency = dependencyOf(err);
    counter.inc({ kind, dependency });
    if (opts.onBrokenDatabaseClient && brokeDatabaseConnection(err) && !replacing) {
      // One crash breaks several connections within a moment: one replacement for them all.
      replacing = setTimeout(() => {
        replacing = undefined;
        opts.log.warn('a database connection broke mid-write: new database clients');
        opts.onBrokenDatabaseClient?.();
      }, 100);
      replacing.unref();
    }
    if (dependency !== 'none') {
      opts.log.warn(
        { err, kind, dependency },
        `a ${dependency} error nothing handled (the ${dependency} is away or failing): serving on`,
      );
      return 'continue';
    }
    if (kind === 'rejection') {
      opts.log.error({ err, kind }, 'a promise rejection nothing handled (a bug): serving on');
      return 'continue';
    }
    opts.log.fatal({ err, kind }, 'an exception nothing handled (a bug): shutting down for a fresh process');
    if (!shuttingDown) {
      shuttingDown = true;
      opts.shutdown('uncaughtException');
    }
    return 'shutdown';
  };
  const target = opts.target ?? process;
  const onRejection = (reason: unknown) => void handle('rejection', reason);
  const onException = (err: unknown) => void handle('exception', err);
  target.on('unhandledRejection', onRejection);
  target.on('uncaughtException', onException);
  return {
    handle,
    uninstall() {
      target.off('unhandledRejection', onRejection);
      target.off('uncaughtException', onException);
    },
  };
}
