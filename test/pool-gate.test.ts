// The pool gate (db/client.ts PoolGate) gives a permit back from work that never ends: after a
// PostgreSQL crash behind PgBouncer, postgres.js left queries unsettled for good, each holding
// its permit, until every query of the host answered PoolBusyError and /readyz 'unavailable'
// (issue 24's topology run, scenario (h)).
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDatabase, DatabaseDeadlineError, PoolGate, RECLAIM_FACTOR } from '../db/client.ts';
import { REAL_DATABASE_URL } from './helpers.ts';

const never = () => new Promise<never>(() => {});

describe('PoolGate', () => {
  it('takes back the permit of work that never ends, RECLAIM_FACTOR deadlines after it started', async () => {
    const deadlineMs = 100;
    const gate = new PoolGate('primary', 1, 5000, deadlineMs);
    const started = performance.now();
    await expect(gate.run(never)).rejects.toBeInstanceOf(DatabaseDeadlineError);
    // The only permit is still held by the stuck work; the next call gets it when it is reclaimed.
    const next = await gate.run(async () => 'served').catch((e: unknown) => e);
    const waited = performance.now() - started;
    expect(next).toBe('served');
    expect(gate.reclaimed).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(deadlineMs * RECLAIM_FACTOR - 5);
    expect(waited).toBeLessThan(2000);
    expect(gate.inUse).toBe(0);
  });

  it('work that ends gives its permit back once (not again when the reclaim time comes)', async () => {
    const gate = new PoolGate('primary', 1, 50, 10);
    await expect(gate.run(async () => 1)).resolves.toBe(1);
    await new Promise((r) => setTimeout(r, 40)); // past the reclaim time (20 ms)
    expect({ inUse: gate.inUse, reclaimed: gate.reclaimed }).toEqual({ inUse: 0, reclaimed: 0 });
  });
});

describe.skipIf(!REAL_DATABASE_URL)('Database.replaceClients', () => {
  it('destroys the old client under every holder, gives its permits back, and the next query runs on a new one', async () => {
    const database = await createDatabase({ url: REAL_DATABASE_URL!, poolMax: 1, poolWaitMs: 500 });
    try {
      const [before] = await database.pg!<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      // The only permit held by a statement that would run 30 s (as a query a broken
      // connection never settles holds it).
      const stuck = database.ping().then(() => database.db.execute(sql`SELECT pg_sleep(30)`));
      stuck.catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      database.replaceClients!();
      await expect(stuck).rejects.toThrow();
      await database.ping(); // the permit came back: no PoolBusyError
      const [after] = await database.pg!<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      expect(after!.pid).not.toBe(before!.pid);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await database.close();
    }
  });
});
