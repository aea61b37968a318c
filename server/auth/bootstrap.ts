// ADMIN_EMAIL / ADMIN_PASSWORD: at start, create that superadmin if no user has the
// email. Idempotent and safe when several instances start together: the INSERT ends in
// ON CONFLICT DO NOTHING on the case-insensitive email index. An existing user is left
// exactly as it is (its role and password are not touched).
import { sql } from 'drizzle-orm';
import { type Executor, queryRows } from '../../db/client.ts';
import { idRow } from '../../db/row.ts';
import { auditInsert } from '../audit.ts';
import type { PasswordHasher } from './passwords.ts';

export async function ensureSuperadmin(
  db: Executor,
  passwords: PasswordHasher,
  email: string,
  password: string,
): Promise<'created' | 'exists'> {
  const normalized = email.trim().toLowerCase();
  // Skip the ~300 ms hash on every start once the account exists.
  const [existing] = await queryRows(db, idRow, sql`SELECT id FROM users WHERE lower(email) = ${normalized}`);
  if (existing) return 'exists';
  const passwordHash = await passwords.hash(password);
  const created = await queryRows(
    db,
    idRow,
    sql`WITH u AS (
          INSERT INTO users (email, name, password_hash, role_id, email_verified_at)
          SELECT ${normalized}, 'Administrator', ${passwordHash}, id, now() FROM roles WHERE name = 'superadmin'
          ON CONFLICT ((lower(email))) DO NOTHING
          RETURNING id
        ), sub AS (
          INSERT INTO subscriptions (user_id, plan_id, status)
          SELECT u.id, p.id, 'active' FROM u, plans p WHERE p.code = 'free'
        ), audit AS (
          ${auditInsert({ actorId: null, action: 'admin.bootstrapSuperadmin', targetId: sql`u.id` }, sql`u`)}
        )
        SELECT id FROM u`,
  );
  return created.length > 0 ? 'created' : 'exists';
}
