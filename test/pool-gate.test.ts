// The pool gate (db/client.ts PoolGate) gives a permit back from work that never ends: after a
// PostgreSQL crash behind PgBouncer, postgres.js left queries unsettled for good, each holding
// its permit, until every query of the host answered PoolBusyError and /readyz 'unavailable'
// (issue 24's topology run, scenario (h)).
import { describe, expect, it } from 'vitest';
import { DatabaseDeadlineError, PoolGate, RECLAIM_FACTOR } from '../db/client.ts';

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
