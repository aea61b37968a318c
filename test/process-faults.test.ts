// The process-level policy for errors nothing handled (server/process-faults.ts): a
// dependency's error is logged and counted and the process serves on; a bug's rejection
// likewise; a bug's uncaught exception starts the graceful shutdown (exit 1), once.
// test/faults/db-restart.test.ts shows it on real processes (PostgreSQL restarted and
// killed, behind PgBouncer: postgres.js's escaping server_login_retry no longer ends them).
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DatabaseDeadlineError, PoolBusyError } from '../db/client.ts';
import { dependencyOf, installProcessFaultPolicy } from '../server/process-faults.ts';

/** A driver error as postgres.js makes it (its class is not exported). */
function postgresError(code: string, message: string): Error {
  const err = new Error(message) as Error & { code: string; severity_local: string };
  err.name = 'PostgresError';
  err.code = code;
  err.severity_local = 'FATAL';
  return err;
}

function setup() {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        lines.push(JSON.parse(line) as { level: number; msg: string });
      },
    },
  );
  const registry = new Registry();
  const shutdowns: string[] = [];
  const target = new EventEmitter();
  let replacements = 0;
  const policy = installProcessFaultPolicy({
    log,
    registry,
    shutdown: (r) => shutdowns.push(r),
    target,
    onBrokenDatabaseClient: () => (replacements += 1),
  });
  const count = async () =>
    Object.fromEntries(
      (await registry.getSingleMetric('process_unhandled_errors_total')!.get()).values.map((v) => [
        `${v.labels.kind} ${v.labels.dependency}`,
        v.value,
      ]),
    );
  return { lines, shutdowns, target, policy, count, replacements: () => replacements };
}

describe('errors nothing handled', () => {
  it('names the dependency an error comes from', () => {
    expect(
      dependencyOf(
        postgresError('08P01', 'server login has been failing, try again later (server_login_retry)'),
      ),
    ).toBe('database');
    expect(dependencyOf(postgresError('57P01', 'terminating connection due to administrator command'))).toBe(
      'database',
    );
    expect(
      dependencyOf(Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })),
    ).toBe('database');
    expect(dependencyOf(new PoolBusyError('primary', 500))).toBe('database');
    // postgres.js's write after its connection closed (porsager/postgres#1208), as thrown
    // from its setImmediate when PostgreSQL restarts; the same TypeError elsewhere is a bug.
    const nullWrite = new TypeError("Cannot read properties of null (reading 'write')");
    nullWrite.stack = `${nullWrite.message}\n    at Immediate.nextWrite (file:///app/node_modules/postgres/src/connection.js:255:22)\n    at process.processImmediate (node:internal/timers:574:21)`;
    expect(dependencyOf(nullWrite)).toBe('database');
    const ours = new TypeError("Cannot read properties of null (reading 'write')");
    ours.stack = `${ours.message}\n    at nextWrite (file:///app/server/http/downloads.ts:10:1)`;
    expect(dependencyOf(ours)).toBe('none');
    expect(dependencyOf(new DatabaseDeadlineError('primary', 10_000))).toBe('database');
    expect(dependencyOf(new Error('Connection is closed.'))).toBe('redis');
    expect(
      dependencyOf(
        Object.assign(new Error('READONLY You cannot write against a read only replica.'), {
          name: 'ReplyError',
        }),
      ),
    ).toBe('redis');
    expect(dependencyOf(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe('none');
    expect(dependencyOf('a string')).toBe('none');
  });

  it('serves on after a dependency error, logged as a warning and counted', async () => {
    const { lines, shutdowns, target, policy, count } = setup();
    try {
      target.emit(
        'unhandledRejection',
        postgresError('08P01', 'server login has been failing'),
        Promise.resolve(),
      );
      target.emit('uncaughtException', new Error('Connection is closed.'));
      expect(shutdowns).toEqual([]);
      expect(await count()).toEqual({ 'rejection database': 1, 'exception redis': 1 });
      expect(lines.map((l) => l.level)).toEqual([40, 40]);
    } finally {
      policy.uninstall();
    }
  });

  it("serves on after a bug's rejection, logged as an error and counted", async () => {
    const { lines, shutdowns, target, policy, count } = setup();
    try {
      target.emit('unhandledRejection', new TypeError('x is not a function'), Promise.resolve());
      expect(shutdowns).toEqual([]);
      expect(await count()).toEqual({ 'rejection none': 1 });
      expect(lines.map((l) => l.level)).toEqual([50]);
    } finally {
      policy.uninstall();
    }
  });

  it("shuts down (once) after a bug's uncaught exception, logged as fatal and counted", async () => {
    const { lines, shutdowns, target, policy, count } = setup();
    try {
      target.emit('uncaughtException', new TypeError('x is not a function'));
      target.emit('uncaughtException', new RangeError('again'));
      expect(shutdowns).toEqual(['uncaughtException']);
      expect(await count()).toEqual({ 'exception none': 2 });
      expect(lines.map((l) => l.level)).toEqual([60, 60]);
    } finally {
      policy.uninstall();
    }
  });

  it('replaces the database clients once after a burst of broken postgres.js connections', async () => {
    const { target, policy, replacements, shutdowns } = setup();
    try {
      const broken = () => {
        const err = new TypeError("Cannot read properties of null (reading 'write')");
        err.stack = `${err.message}\n    at Immediate.nextWrite (file:///app/node_modules/postgres/src/connection.js:255:22)`;
        return err;
      };
      // One crash: several connections break within a moment.
      for (let i = 0; i < 6; i++) target.emit('uncaughtException', broken());
      // Other database errors replace nothing.
      target.emit('unhandledRejection', postgresError('08P01', 'server login has been failing'));
      await new Promise((r) => setTimeout(r, 300));
      expect({ replacements: replacements(), shutdowns }).toEqual({ replacements: 1, shutdowns: [] });
      // A later crash: again.
      target.emit('uncaughtException', broken());
      await new Promise((r) => setTimeout(r, 300));
      expect(replacements()).toBe(2);
    } finally {
      policy.uninstall();
    }
  });
});
