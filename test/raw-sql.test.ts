// Raw SQL has one checked path: queryRows validates every row against a zod schema (the
// two drivers disagree on bigint and numeric, which db/row.ts reads one way), and audit
// rows are written only by server/audit.ts (recordAudit, or auditInsert inside a CTE).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows, RowShapeError } from '../db/client.ts';
import { countRow, date, num } from '../db/row.ts';
import { auditInsert, recordAudit } from '../server/audit.ts';
import { createTestDatabase, DB_KINDS } from './helpers.ts';

const ROOT = new URL('..', import.meta.url).pathname;
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(ROOT, dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sources(relative(ROOT, path));
    return /\.tsx?$/.test(name) ? [relative(ROOT, path)] : [];
  });
}

describe('one way to run raw SQL and to write the audit log', () => {
  it('no file but server/audit.ts spells the audit INSERT', () => {
    const writers = ['server', 'db', 'scripts', 'bench']
      .flatMap(sources)
      .filter((f) => /insert\s+into\s+audit_log/i.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(writers).toEqual(['server/audit.ts']);
  });

  it('no raw-SQL row type is asserted (queryRows takes a schema)', () => {
    // A call with a type argument (spelled in two parts so this file does not match itself).
    const typeArgument = new RegExp(`(?<!function )queryRows${'<'}`);
    const asserted = ['server', 'db', 'scripts', 'bench', 'test']
      .flatMap(sources)
      .filter((f) => typeArgument.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(asserted).toEqual([]);
  });
});

describe.each(DB_KINDS)('queryRows on %s', (kind) => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(() => database?.dispose());

  it('reads bigint, numeric and timestamps the same way on either driver', async () => {
    const [row] = await queryRows(
      database.db,
      z.object({ n: num, ratio: num, at: date }),
      sql`SELECT count(*) AS n, 2.5::numeric AS ratio, '2026-01-02T03:04:05.678Z'::timestamptz AS at FROM roles`,
    );
    expect(row!.n).toBeGreaterThan(0);
    expect(row!.ratio).toBe(2.5);
    expect(row!.at.toISOString()).toBe('2026-01-02T03:04:05.678Z');
  });

  it('refuses a row its schema does not describe, naming the column but not the value', async () => {
    const err = await queryRows(database.db, countRow, sql`SELECT 'private words' AS n`).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RowShapeError);
    expect((err as Error).message).toMatch(/^row shape: n: /);
    expect((err as Error).message).not.toContain('private');
  });

  it('auditInsert writes the same row as recordAudit, alone or once per source row', async () => {
    const actor = '00000000-0000-4000-8000-000000000001';
    await recordAudit(database.db, {
      actorId: actor,
      action: 'auth.logout',
      targetId: actor,
      ip: '10.0.0.1',
      details: { sessionId: 's1' },
    });
    await database.db.execute(
      sql`WITH src(t) AS (VALUES (${actor}::uuid), (${actor}::uuid)),
          a AS (${auditInsert({ actorId: null, action: 'auth.logout', targetId: sql`t`, details: sql`jsonb_build_object('n', 1)` }, sql`src`)})
          SELECT 1`,
    );
    const rows = await queryRows(
      database.db,
      z.object({ actor_id: z.string().nullable(), ip: z.string().nullable(), details: z.unknown() }),
      sql`SELECT actor_id, ip, details FROM audit_log WHERE action = 'auth.logout' AND target_id = ${actor} ORDER BY id`,
    );
    expect(rows).toEqual([
      { actor_id: actor, ip: '10.0.0.1', details: { sessionId: 's1' } },
      { actor_id: null, ip: null, details: { n: 1 } },
      { actor_id: null, ip: null, details: { n: 1 } },
    ]);
  });
});
