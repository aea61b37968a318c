// DATABASE_REPLICA_URLS: deps.readDb sends selects to a replica, and writes, raw
// statements and transactions (read-after-write) to the primary. Shown with two pools on
// the same server told apart by application_name (skipped without DATABASE_URL).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDatabase, type Database, queryRows } from '../db/client.ts';
import { auditLog, roles } from '../db/schema/index.ts';
import { createTestDatabase, REAL_DATABASE_URL } from './helpers.ts';

const appName = sql<string>`current_setting('application_name')`;

describe.skipIf(!REAL_DATABASE_URL)('read replicas', () => {
  let testDb: Awaited<ReturnType<typeof createTestDatabase>>;
  let database: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase('postgres');
    database = await createDatabase({
      url: testDb.url,
      replicaUrls: [testDb.url!],
      applicationName: 'routing-test',
    });
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.dispose();
  });

  it('runs readDb selects on the replica and everything else on the primary', async () => {
    const readDb = database.readDb!;
    const [onRead] = await readDb.select({ app: appName }).from(roles).limit(1);
    expect(onRead!.app).toBe('routing-test-replica');
    const [onPrimary] = await database.db.select({ app: appName }).from(roles).limit(1);
    expect(onPrimary!.app).toBe('routing-test');
    const [written] = await readDb
      .insert(auditLog)
      .values({ action: 'replica.test' })
      .returning({ app: appName });
    expect(written!.app).toBe('routing-test');
    const inTx = await readDb.transaction(
      async (tx) => (await tx.select({ app: appName }).from(roles).limit(1))[0]!.app,
    );
    expect(inTx).toBe('routing-test');
    const [raw] = await queryRows(readDb, z.object({ app: z.string() }), sql`SELECT ${appName} AS app`);
    expect(raw!.app).toBe('routing-test');
    expect(database.pools!.map((p) => p.name)).toEqual(['primary', 'replica0']);
  });
});
