// The migrated templates test databases copy (test/templates.ts): keyed by migrations/, so
// a changed migration makes a new one; a copy is exactly a migrated database.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MIGRATIONS_FOLDER, queryRows } from '../db/client.ts';
import { createTestDatabase, DB_KINDS } from './helpers.ts';
import { migrationsHash } from './templates.ts';

describe('the templates key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'manas360-migrations-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('changes when a migration is edited or added, and only then', () => {
    cpSync(MIGRATIONS_FOLDER, dir, { recursive: true });
    const original = migrationsHash(dir);
    expect(original).toBe(migrationsHash(MIGRATIONS_FOLDER));
    expect(migrationsHash(dir)).toBe(original);
    writeFileSync(join(dir, '0000_schema.sql'), '-- edited\n', { flag: 'a' });
    const edited = migrationsHash(dir);
    expect(edited).not.toBe(original);
    writeFileSync(join(dir, '9999_new.sql'), 'SELECT 1;\n');
    expect(migrationsHash(dir)).not.toBe(edited);
  });
});

const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as {
  entries: { tag: string }[];
};

describe.each(DB_KINDS)('a test database copied from the template (%s)', (kind) => {
  it('has every migration applied, and migrating it again changes nothing', async () => {
    const database = await createTestDatabase(kind);
    try {
      const count = z.object({ n: z.coerce.number() });
      const applied = async () =>
        (await queryRows(database.db, count, sql`SELECT count(*) AS n FROM drizzle.__drizzle_migrations`))[0]!
          .n;
      expect(await applied()).toBe(journal.entries.length);
      await database.migrate();
      expect(await applied()).toBe(journal.entries.length);
      // Migration 0016's database defaults (ALTER DATABASE … SET) come with the copy.
      const settings = z.object({ setting: z.string() });
      const rows = await queryRows(
        database.db,
        settings,
        sql`SELECT unnest(s.setconfig) AS setting FROM pg_db_role_setting s
            JOIN pg_database d ON d.oid = s.setdatabase
            WHERE d.datname = current_database() AND s.setrole = 0`,
      );
      expect(rows.map((r) => r.setting).sort()).toEqual([
        'idle_in_transaction_session_timeout=60s',
        'lock_timeout=10s',
        'statement_timeout=30s',
      ]);
    } finally {
      await database.dispose();
    }
  });
});
