// Statements a timer runs (the revocation resync, the crisis feed's poll) are not a
// request's: the per-request counts the suite pins (serverQueries) must not see them, or a
// resync landing inside a counted window makes a pinned count flaky on a slow machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onQuery } from '../db/client.ts';
import { RevocationList, startRevocationSync } from '../server/auth/revocation.ts';
import { createLogger } from '../server/create-services.ts';
import { serverQueries } from './accounts.ts';
import { createTestDatabase } from './helpers.ts';

describe('background statements', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.dispose();
  });

  it('a timer’s revocation resync is not counted as a request’s statements', async () => {
    let background = 0;
    const stopListening = onQuery((scope) => {
      if (scope?.background) background += 1;
    });
    const stopSync = await startRevocationSync({
      list: new RevocationList(),
      db: database.db,
      accessTtlSeconds: 900,
      log: createLogger({ LOG_LEVEL: 'silent' }),
      redis: undefined,
      channel: 'test:revocations',
      resyncIntervalMs: 10,
    });
    try {
      const { queries } = await serverQueries(async () => {
        // Wait on progress, not a fixed time: until the timer has reloaded a few times.
        while (background < 6) await new Promise((resolve) => setTimeout(resolve, 10));
      });
      expect(background).toBeGreaterThanOrEqual(6);
      expect(queries).toBe(0);
    } finally {
      await stopSync();
      stopListening();
    }
  });
});
