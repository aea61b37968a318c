// ADMIN_EMAIL / ADMIN_PASSWORD: the superadmin is created at start, once, even when
// several instances start together; an existing account is left alone.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { ensureSuperadmin } from '../server/auth/bootstrap.ts';
import { loadConfig } from '../server/config.ts';
import { authenticate } from '../server/trpc/context.ts';
import { callerFor, callerRegister, createTestDeps, DB_KINDS, NOTICE } from './helpers.ts';

const ADMIN_EMAIL = 'Root@Example.com';
const ADMIN_PASSWORD = 'a long bootstrap passphrase';

describe.each(DB_KINDS)('superadmin bootstrap on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  beforeAll(async () => {
    deps = await createTestDeps(kind, { ADMIN_EMAIL, ADMIN_PASSWORD });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  it('creates the superadmin at start; it can log in with every permission', async () => {
    const session = await callerFor(deps).auth.login({ email: 'root@example.com', password: ADMIN_PASSWORD });
    const claims = (await authenticate(deps, `Bearer ${session.accessToken}`)).auth;
    expect(claims).toMatchObject({ role: 'superadmin', privilegeLevel: 100, plan: 'free' });
    expect(claims?.permissions).toContain('roles.manage');
    // Active from the start: only auth.register creates pending accounts (registration-privacy.md).
    const [row] = await queryRows(
      deps.db,
      z.object({ status: z.string() }),
      sql`SELECT status FROM users WHERE lower(email) = 'root@example.com'`,
    );
    expect(row?.status).toBe('active');
  });

  it('is idempotent and race-safe: parallel starts leave exactly one account', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () => ensureSuperadmin(deps.db, deps.passwords, ADMIN_EMAIL, ADMIN_PASSWORD)),
    );
    expect(outcomes.every((o) => o === 'exists')).toBe(true);
    const other = 'second.root@example.com';
    const raced = await Promise.all(
      Array.from({ length: 4 }, () => ensureSuperadmin(deps.db, deps.passwords, other, ADMIN_PASSWORD)),
    );
    expect(raced.filter((o) => o === 'created')).toHaveLength(1);
    const [row] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM users WHERE lower(email) IN ('root@example.com', ${other})`,
    );
    expect(row?.n).toBe(2);
  });

  it('leaves an existing account with that email untouched', async () => {
    const email = 'taken@example.com';
    const reg = await callerRegister(deps, {
      email,
      password: 'user password 1',
      name: 'Taken',
      acceptPrivacyNotice: NOTICE,
    });
    expect(await ensureSuperadmin(deps.db, deps.passwords, email, ADMIN_PASSWORD)).toBe('exists');
    const [row] = await queryRows(
      deps.db,
      z.object({ role: z.string() }),
      sql`SELECT r.name AS role FROM users u JOIN roles r ON r.id = u.role_id WHERE u.id = ${reg.user.id}`,
    );
    expect(row?.role).toBe('patient');
  });
});

describe('PASSWORD_HASH_COST', () => {
  it('is refused in production', () => {
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://x@localhost/db',
        REDIS_URL: 'redis://localhost:6379',
        JWT_SECRET: 'x'.repeat(40),
        NOTES_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
        PASSWORD_HASH_COST: '12',
      }),
    ).toThrow(/PASSWORD_HASH_COST/);
  });
});
