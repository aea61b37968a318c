// The results serializer (server/trpc/transformer.ts) must put on the wire exactly what
// superjson would, for every value: compared byte for byte on generated values and on the
// cases superjson has special rules for, and decoded by superjson as the client does.
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { serializeResult } from '../server/trpc/transformer.ts';

const wire = (v: unknown) => JSON.stringify(v);

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible seed. */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['id', 'name', 'a.b', 'back\\slash', 'items', 'createdAt', '0', 'x'];
function value(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (k) {
    case 0:
      return Math.floor(r() * 1000) - 500;
    case 1:
      return `s${Math.floor(r() * 100)}`;
    case 2:
      return r() < 0.5;
    case 3:
      return null;
    case 4:
      return new Date(Math.floor(r() * 4e12));
    case 5:
      return r() * 10;
    case 6:
      return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 5); i > 0; i--)
        o[KEYS[Math.floor(r() * KEYS.length)]!] = value(r, depth + 1);
      return o;
    }
  }
}

describe('results serializer', () => {
  it('writes exactly what superjson writes, for 5,000 generated JSON-and-Date values', () => {
    for (let seed = 1; seed <= 5000; seed++) {
      const v = value(rng(seed), 0);
      const before = wire(v);
      const fast = serializeResult(v);
      const reference = superjson.serialize(v as never);
      // The same object superjson gives (Dates as ISO strings), and the result left as it was.
      expect(fast).toEqual(reference);
      expect(wire(v)).toBe(before);
      if (wire(fast) !== wire(reference))
        expect({ seed, fast: wire(fast) }).toEqual({ seed, fast: wire(reference) });
      expect(superjson.deserialize(JSON.parse(wire(fast)))).toEqual(v);
    }
  });

  it('leaves every value superjson has another rule for to superjson', () => {
    const special: unknown[] = [
      { a: undefined },
      [1, undefined],
      undefined,
      Number.NaN,
      { n: -0 },
      { big: 10n },
      new Map([['a', 1]]),
      new Set([1]),
      { d: new Date(Number.NaN) },
      new Date(0),
      { nested: { re: /x/g } },
      { inf: Number.POSITIVE_INFINITY },
      Object.create(null),
      new (class Thing {
        x = 1;
      })(),
    ];
    for (const v of special) expect(wire(serializeResult(v))).toBe(wire(superjson.serialize(v as never)));
  });

  it('copies only the way to each Date, never the result itself', () => {
    const shared = { tags: ['a'] };
    const rows = [{ at: new Date(0), shared }, { n: 1 }];
    const result = { rows, total: 2 };
    const out = serializeResult(result) as { json: { rows: Array<{ at: unknown; shared: unknown }> } };
    expect(out.json.rows[0]!.at).toBe('1970-01-01T00:00:00.000Z');
    expect(rows[0]!.at).toBeInstanceOf(Date);
    expect(out.json.rows[0]!.shared).toBe(shared);
    expect(out.json.rows[1]).toBe(rows[1]);
    expect(out.json).not.toBe(result);
  });

  it('sends a result without Dates as plain JSON (no meta)', () => {
    expect(serializeResult({ ok: true, items: [1, 'a'] })).toEqual({ json: { ok: true, items: [1, 'a'] } });
  });
});
