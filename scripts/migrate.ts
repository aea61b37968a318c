// npm run db:migrate — applies pending migrations to DATABASE_URL, or to the embedded
// PGlite under DATA_DIR when DATABASE_URL is unset.

import { createDatabase } from '../db/client.ts';
import { loadConfig } from '../server/config.ts';

const config = loadConfig();
const database = await createDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolMax: 1 });
try {
  await database.migrate();
  console.log(`migrations applied (${database.kind})`);
} finally {
  await database.close();
}
