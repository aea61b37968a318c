// npm run db:seed — demo users of each role for development, with their credentials
// printed. Refused in production. Idempotent: existing demo users are left as they are. On the
// embedded database, refused while another process (the server) has DATA_DIR open.
import { sql } from 'drizzle-orm';
import { createDatabase } from '../db/client.ts';
import { createPasswordHasher } from '../server/auth/passwords.ts';
import { loadConfig, loadDotEnv } from '../server/config.ts';
import { rootCauseMessage } from '../server/logging.ts';

const DEMO_USERS = [
  { email: 'patient@demo.manas360.test', name: 'Demo Patient', role: 'patient', plan: 'basic' },
  { email: 'free.patient@demo.manas360.test', name: 'Demo Free Patient', role: 'patient', plan: 'free' },
  { email: 'therapist@demo.manas360.test', name: 'Demo Therapist', role: 'therapist', plan: 'free' },
  { email: 'admin@demo.manas360.test', name: 'Demo Admin', role: 'admin', plan: 'free' },
] as const;
const DEMO_PASSWORD = 'demo-password-123';

loadDotEnv();
const config = loadConfig();
if (config.NODE_ENV === 'production') {
  console.error('db:seed creates demo users with a known password: refused in production');
  process.exit(1);
}
// The embedded database refuses a second process (the server running on the same DATA_DIR):
// one line saying which process and what to do, exit 1, nothing touched.
const database = await createDatabase({
  url: config.DATABASE_URL,
  dataDir: config.DATA_DIR,
  poolMax: 1,
}).catch((err: unknown) => {
  console.error(`db:seed refused: ${rootCauseMessage(err)}`);
  process.exit(1);
});
if (database.kind === 'pglite') await database.migrate();
const hash = await createPasswordHasher().hash(DEMO_PASSWORD);
for (const u of DEMO_USERS) {
  await database.db.execute(
    sql`WITH new_user AS (
          INSERT INTO users (email, name, password_hash, role_id, email_verified_at)
          VALUES (${u.email}, ${u.name}, ${hash}, (SELECT id FROM roles WHERE name = ${u.role}), now())
          ON CONFLICT DO NOTHING RETURNING id),
        new_sub AS (
          INSERT INTO subscriptions (user_id, plan_id, current_period_end)
          SELECT id, (SELECT id FROM plans WHERE code = ${u.plan}), now() + interval '30 days' FROM new_user)
        INSERT INTO therapist_profiles (user_id, bio, specializations, languages, fee_paise)
        SELECT id, 'Demo therapist', ARRAY['anxiety', 'depression'], ARRAY['en', 'hi'], 80000
        FROM new_user WHERE ${u.role} = 'therapist'
`,
  );
  console.log(`${u.role.padEnd(9)} ${u.plan.padEnd(6)} ${u.email.padEnd(34)} password: ${DEMO_PASSWORD}`);
}
console.log('(development only; existing demo users were left unchanged)');
await database.close();
