// npm run db:migrate — applies pending migrations to DATABASE_URL, or to the embedded
// PGlite under DATA_DIR when DATABASE_URL is unset. Needs nothing else (no Redis, no keys);
// reads ./.env when present. Concurrent runs take turns (an advisory lock, db/client.ts).
// A failure prints one line and exits 1. In the image: `node dist/migrate.js`.
import { createDatabase } from '../db/client.ts';
import { ConfigError, loadDotEnv, loadMigrateConfig } from '../server/config.ts';
import { rootCauseMessage } from '../server/logging.ts';

try {
  loadDotEnv();
  const config = loadMigrateConfig();
  const database = await createDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolMax: 1,
    pooler: config.DATABASE_POOLER,
  });
  try {
    await database.migrate();
    console.log(`migrations applied (${database.kind})`);
  } finally {
    await database.close();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${rootCauseMessage(err)}`);
  process.exitCode = 1;
}
