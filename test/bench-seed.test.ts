// `npm run bench` on a fresh machine (issue 24): the seed's large statements must not be
// cancelled by the database's statement timeout (30 s in production, set by migration 0016;
// here 20 ms, so that the seed of a few thousand users is far over it). Real PostgreSQL only.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedUsers, userCount } from '../bench/seed.ts';
import { createTestDatabase, REAL_DATABASE_URL } from './helpers.ts';

describe.skipIf(!REAL_DATABASE_URL)('the bench seed', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    testDb = await createTestDatabase('postgres');
    const name = new URL(testDb.url!).pathname.slice(1);
    const admin = postgres(REAL_DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`ALTER DATABASE "${name}" SET statement_timeout = '20ms'`);
    await admin.end();
  });
  afterAll(async () => {
    await testDb?.dispose();
  });

  it('seeds past a short database statement timeout (its own session has none)', async () => {
    // The database default applies to other sessions: a slow statement there is cancelled.
    const other = postgres(testDb.url!, { max: 1, onnotice: () => {} });
    try {
      await expect(other`SELECT pg_sleep(0.2)`).rejects.toMatchObject({ code: '57014' });
    } finally {
      await other.end();
    }
    await seedUsers(testDb.url!, 5000, 5);
    expect(await userCount(testDb.url!)).toBe(5000);
  }, 120_000);
});
