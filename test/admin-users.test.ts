// admin.users.*: list and get (one query on the base tables), role/plan changes,
// suspension, session revocation; each takes effect on live access tokens at once and is
// audited; privilege escalation attempts fail.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countQueries, queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import { indexedFragment, listUsers } from '../server/domain/admin-users.ts';
import { appRouter } from '../server/routers/index.ts';
import { authenticate, createContext } from '../server/trpc/context.ts';
import { createCallerFactory } from '../server/trpc/init.ts';
import { type AdminUsersListInput, adminUsersListInput, USER_SORTS } from '../shared/inputs/admin-users.ts';
import { detailsOf, errorOf } from './fixtures/domain.ts';
import { callerFor, callerRegister, callerSignIn, createTestDeps, DB_KINDS, NOTICE } from './helpers.ts';

type Deps = Awaited<ReturnType<typeof createTestDeps>>;
const PASSWORD = 'correct horse battery';
const createCaller = createCallerFactory(appRouter);
let seq = 0;

describe.each(DB_KINDS)('admin.users on %s', (kind) => {
  let deps: Deps;
  let superadmin: Awaited<ReturnType<typeof makeUser>>;
  let admin: Awaited<ReturnType<typeof makeUser>>;
  let therapist: Awaited<ReturnType<typeof makeUser>>;

  beforeAll(async () => {
    deps = await createTestDeps(kind);
    superadmin = await makeUser('superadmin', 'root');
    admin = await makeUser('admin', 'boss');
    therapist = await makeUser('therapist', 'doc');
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  /** A user of `role`, logged in (its token carries that role). */
  async function makeUser(role: string, tag = 'user', name = 'Test User') {
    const email = `${tag}.${Date.now().toString(36)}.${seq++}@example.com`;
    const reg = await callerRegister(deps, {
      email,
      password: PASSWORD,
      name,
      acceptPrivacyNotice: NOTICE,
    });
    if (role !== 'patient')
      await deps.db.execute(
        sql`UPDATE users SET role_id = (SELECT id FROM roles WHERE name = ${role}) WHERE id = ${reg.user.id}`,
      );
    const session = await callerSignIn(deps, { email, password: PASSWORD });
    return { ...session, id: reg.user.id, email };
  }
  const claimsOf = async (accessToken: string) => (await authenticate(deps, `Bearer ${accessToken}`)).auth;
  const as = async (user: { accessToken: string }) => {
    const claims = await claimsOf(user.accessToken);
    if (!claims) throw new Error('token refused');
    return callerFor(deps, claims, { ip: '10.0.0.1' });
  };
  const auditCount = async (action: string, targetId: string) => {
    const [row] = await queryRows(
      deps.db,
      countRow,
      sql`SELECT count(*)::int AS n FROM audit_log WHERE action = ${action} AND target_id = ${targetId}`,
    );
    return row?.n ?? 0;
  };
  /** The audit details of `action` on `targetId`, oldest first. */
  const auditDetails = async (action: string, targetId: string) =>
    (
      await queryRows(
        deps.db,
        z.object({ details: z.unknown() }),
        sql`SELECT details FROM audit_log WHERE action = ${action} AND target_id = ${targetId} ORDER BY id`,
      )
    ).map((r) => r.details);

  it('lists users from the base tables: search by any part, filters, sorts and keyset pages in one query', async () => {
    const tag = `zq${Date.now().toString(36)}`;
    for (let i = 0; i < 5; i++) await makeUser('patient', `a${i}.${tag}`, `Name ${'edcba'[i]} ${tag}`);
    await makeUser('patient', `${tag}_x`, 'Underscore'); // "_" must not act as a wildcard
    const caller = await as(admin);
    // No view refresh: the list reads the base tables, so users made a moment ago are there.
    const { result: page1, queries } = await countQueries(() =>
      caller.admin.users.list({ search: tag.toUpperCase().slice(1), limit: 2 }),
    );
    expect(queries).toBe(1);
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).toBeTruthy();
    const page2 = await caller.admin.users.list({
      search: tag.slice(1),
      limit: 2,
      cursor: page1.nextCursor!,
    });
    const page3 = await caller.admin.users.list({
      search: tag.slice(1),
      limit: 2,
      cursor: page2.nextCursor!,
    });
    const all = [...page1.items, ...page2.items, ...page3.items];
    expect(all).toHaveLength(6);
    expect(new Set(all.map((u) => u.id)).size).toBe(6);
    expect(page3.nextCursor).toBeNull();
    // Default order: newest first.
    const created = all.map((u) => u.createdAt.getTime());
    expect(created).toEqual([...created].sort((a, b) => b - a));
    expect(all[0]).toMatchObject({ role: 'patient', plan: 'free', status: 'active' });

    // Sorts: by email and by name, both directions, each through keyset pages.
    const sorted = async (sort: 'email' | 'name', order: 'asc' | 'desc') => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await caller.admin.users.list({ search: tag, sort, order, limit: 2, cursor });
        seen.push(...page.items.map((u) => (sort === 'email' ? u.email : u.name).toLowerCase()));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return seen;
    };
    const byEmail = await sorted('email', 'asc');
    expect(byEmail).toHaveLength(6);
    expect(byEmail).toEqual([...byEmail].sort());
    expect(await sorted('email', 'desc')).toEqual([...byEmail].reverse());
    const byName = await sorted('name', 'asc');
    expect(byName.slice(0, 5)).toEqual(['a', 'b', 'c', 'd', 'e'].map((l) => `name ${l} ${tag}`));
    expect(await sorted('name', 'desc')).toEqual([...byName].reverse());

    // Any part of the email or the name; LIKE wildcards are literal.
    const middle = await caller.admin.users.list({ search: `2.${tag}` });
    expect(middle.items.map((u) => u.email)).toEqual([expect.stringMatching(new RegExp(`^a2\\.${tag}`))]);
    const underscore = await caller.admin.users.list({ search: `${tag}_` });
    expect(underscore.items.map((u) => u.email)).toEqual([expect.stringMatching(new RegExp(`^${tag}_x`))]);
    const percent = await caller.admin.users.list({ search: `${tag}%` });
    expect(percent.items).toEqual([]);
    const inName = await caller.admin.users.list({ search: 'DERSCOR' });
    expect(inName.items.some((u) => u.email.startsWith(`${tag}_x`))).toBe(true);

    const therapists = await caller.admin.users.list({ role: 'therapist', limit: 100 });
    expect(therapists.items.map((u) => u.id)).toContain(therapist.id);
    expect(therapists.items.every((u) => u.role === 'therapist')).toBe(true);
    const suspended = await caller.admin.users.list({ status: 'suspended', plan: 'free' });
    expect(suspended.items.every((u) => u.status === 'suspended')).toBe(true);

    expect((await errorOf(caller.admin.users.list({ limit: 101 }))).code).toBe('BAD_REQUEST');
    expect((await errorOf(caller.admin.users.list({ cursor: 'not-a-cursor' }))).code).toBe('BAD_REQUEST');
    const denied = await countQueries(async () => errorOf((await as(therapist)).admin.users.list({})));
    expect(denied.result.code).toBe('FORBIDDEN');
    expect(detailsOf(denied.result)).toEqual({ reason: 'missing_permission', required: 'users.read' });
    expect(denied.queries).toBe(0);
  });

  it('a search with more matches than it sorts itself walks the sort order instead: the same pages', async () => {
    const tag = `wk${Date.now().toString(36)}`;
    const made = [];
    for (let i = 0; i < 5; i++)
      made.push(await makeUser('patient', `w${i}.${tag}`, `Walker ${'ecadb'[i]} ${tag}`));
    const caller = await as(admin);
    await caller.admin.users.setPlan({ userId: made[1]!.id, planCode: 'premium' });
    await caller.admin.users.setPlan({ userId: made[3]!.id, planCode: 'premium' });
    // A premium subscription that is no longer active counts as free, as the claims say.
    await deps.db.execute(sql`UPDATE subscriptions SET status = 'cancelled' WHERE user_id = ${made[3]!.id}`);
    const pages = async (input: AdminUsersListInput, sortLimit?: number) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await listUsers(deps.db, { ...input, limit: 2, cursor }, sortLimit);
        seen.push(...page.items.map((u) => `${u.email} ${u.plan}`));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return seen;
    };
    for (const sort of USER_SORTS)
      for (const order of ['asc', 'desc'] as const)
        for (const plan of [undefined, 'free', 'premium']) {
          const input = adminUsersListInput.parse({ search: tag, sort, order, plan });
          const sorted = await pages(input); // 5 matches: sorted by the statement itself
          expect(sorted).toHaveLength(plan === undefined ? 5 : plan === 'free' ? 4 : 1);
          expect(await pages(input, 2)).toEqual(sorted); // more than 2: the walk
          if (plan === 'premium') expect(sorted).toEqual([`${made[1]!.email} premium`]);
        }
  });

  it('a search with "@" asks the trigram indexes for the part up to the "@" and keeps whole matches only', async () => {
    expect(indexedFragment('123456@bulk')).toBe('123456@');
    expect(indexedFragment('a@gmail.com')).toBe('a@gmail.com'); // "a@" alone has no trigram
    expect(indexedFragment('@gmail')).toBe('@gmail');
    expect(indexedFragment('user 12')).toBe('user 12');
    const tag = `at${Date.now().toString(36)}`;
    const made = [];
    for (let i = 0; i < 4; i++) made.push(await makeUser('patient', `${tag}.${i}`));
    const [a, b, c, d] = made.map((u) => u.id);
    const set = (id: string | undefined, email: string, name = 'Test User') =>
      deps.db.execute(sql`UPDATE users SET email = ${email}, name = ${name} WHERE id = ${id}`);
    await set(a, `m1.${tag}@example.com`);
    await set(b, `xm1.${tag}@example.com`);
    await set(c, `m1.${tag}@other.test`);
    await set(d, `o1.${tag}@example.com`, `Mail m1.${tag}@example.com here`); // in the name only
    const caller = await as(admin);
    const ids = async (search: string) =>
      (await caller.admin.users.list({ search, sort: 'email', order: 'asc' })).items.map((u) => u.id).sort();
    expect(await ids(`M1.${tag.toUpperCase()}@EXAMPLE`)).toEqual([a, b, d].sort());
    expect(await ids(`m1.${tag}@other`)).toEqual([c]);
    expect(await ids(`m1.${tag}@`)).toEqual([a, b, c, d].sort());
    expect(await ids(`m1.${tag}@nowhere`)).toEqual([]);
    expect(await ids(`m1_${tag}@`)).toEqual([]); // "_" is no wildcard here either
  });

  it('shows a change in the list and in users.get at once (no view refresh), one query each', async () => {
    const user = await makeUser('patient', 'fresh');
    const caller = await as(admin);
    await caller.admin.users.setPlan({ userId: user.id, planCode: 'premium' });
    await caller.admin.users.suspend({ userId: user.id, reason: 'test' });
    const { result: list, queries } = await countQueries(() =>
      caller.admin.users.list({ search: user.email, plan: 'premium', status: 'suspended' }),
    );
    expect(queries).toBe(1);
    expect(list.items).toEqual([
      expect.objectContaining({ id: user.id, plan: 'premium', status: 'suspended' }),
    ]);
    const { result: one, queries: getQueries } = await countQueries(() =>
      caller.admin.users.get({ userId: user.id }),
    );
    expect(getQueries).toBe(1);
    expect(one).toMatchObject({
      id: user.id,
      email: user.email,
      plan: 'premium',
      status: 'suspended',
      suspendedReason: 'test',
    });
    const missing = await errorOf(caller.admin.users.get({ userId: '00000000-0000-4000-8000-000000000000' }));
    expect(missing.code).toBe('NOT_FOUND');
    expect((await errorOf((await as(therapist)).admin.users.get({ userId: user.id }))).code).toBe(
      'FORBIDDEN',
    );
  });

  it('setRole kills live access tokens at once; the refresh token gives the new claims; audited', async () => {
    const user = await makeUser('patient');
    const { queries } = await countQueries(async () =>
      (await as(admin)).admin.users.setRole({ userId: user.id, role: 'therapist' }),
    );
    expect(queries).toBe(1);
    const { result: refused, queries: authQueries } = await countQueries(() => claimsOf(user.accessToken));
    expect(refused).toBeNull();
    expect(authQueries).toBe(0);
    // As a request: the old bearer token gets UNAUTHORIZED, without a query.
    const ctx = await createContext(deps, {
      ip: '10.0.0.2',
      requestId: 'r1',
      authorization: `Bearer ${user.accessToken}`,
    });
    const asRequest = await countQueries(() => errorOf(createCaller(ctx).auth.me()));
    expect(asRequest.result.code).toBe('UNAUTHORIZED');
    expect(asRequest.queries).toBe(0);
    const refreshed = await callerFor(deps).auth.refresh({ refreshToken: user.refreshToken });
    const claims = await claimsOf(refreshed.accessToken);
    expect(claims).toMatchObject({ role: 'therapist', privilegeLevel: 40 });
    expect(claims?.permissions).toContain('notes.write');
    expect(await auditDetails('admin.users.setRole', user.id)).toEqual([
      { role: 'therapist', previousRole: 'patient' },
    ]);
  });

  it('setPlan kills live access tokens at once; the refresh token gives the new features; audited', async () => {
    const user = await makeUser('patient');
    expect((await claimsOf(user.accessToken))?.features).not.toContain('therapist_booking');
    await (await as(admin)).admin.users.setPlan({ userId: user.id, planCode: 'basic' });
    expect(await claimsOf(user.accessToken)).toBeNull();
    const refreshed = await callerFor(deps).auth.refresh({ refreshToken: user.refreshToken });
    const claims = await claimsOf(refreshed.accessToken);
    expect(claims?.plan).toBe('basic');
    expect(claims?.features).toContain('therapist_booking');
    await (await as(admin)).admin.users.setPlan({ userId: user.id, planCode: 'premium' });
    // What the plan was, and no role: a plan change does not touch it.
    expect(await auditDetails('admin.users.setPlan', user.id)).toEqual([
      { plan: 'basic', previousPlan: 'free' },
      { plan: 'premium', previousPlan: 'basic' },
    ]);
    const unknown = await errorOf(
      (await as(admin)).admin.users.setPlan({ userId: user.id, planCode: 'platinum' }),
    );
    expect(unknown.code).toBe('NOT_FOUND');
  });

  it('suspend ends every session and blocks login; unsuspend lets the user log in again; audited', async () => {
    const user = await makeUser('patient');
    const caller = await as(admin);
    await caller.admin.users.suspend({ userId: user.id, reason: 'abuse report #12' });
    expect(await claimsOf(user.accessToken)).toBeNull();
    expect((await errorOf(callerFor(deps).auth.refresh({ refreshToken: user.refreshToken }))).code).toBe(
      'UNAUTHORIZED',
    );
    const login = await errorOf(callerFor(deps).auth.login({ email: user.email, password: PASSWORD }));
    expect(login.code).toBe('FORBIDDEN');
    expect(detailsOf(login)?.reason).toBe('account_suspended');
    await caller.admin.users.unsuspend({ userId: user.id });
    const again = await callerFor(deps).auth.login({ email: user.email, password: PASSWORD });
    expect(await claimsOf(again.accessToken)).not.toBeNull();
    expect(await auditDetails('admin.users.suspend', user.id)).toEqual([{ reason: 'abuse report #12' }]);
    expect(await auditDetails('admin.users.unsuspend', user.id)).toEqual([{}]);
  });

  it('revokeSessions kills the access and refresh tokens of the user; audited', async () => {
    const user = await makeUser('patient');
    await (await as(admin)).admin.users.revokeSessions({ userId: user.id });
    expect(await claimsOf(user.accessToken)).toBeNull();
    expect((await errorOf(callerFor(deps).auth.refresh({ refreshToken: user.refreshToken }))).code).toBe(
      'UNAUTHORIZED',
    );
    expect(await auditDetails('admin.users.revokeSessions', user.id)).toEqual([{}]);
  });

  it('refuses privilege escalation: granting admin or superadmin, acting on an equal or higher role', async () => {
    const user = await makeUser('patient');
    const otherAdmin = await makeUser('admin');
    const caller = await as(admin);
    const attempts = [
      () => caller.admin.users.setRole({ userId: user.id, role: 'superadmin' }),
      () => caller.admin.users.setRole({ userId: user.id, role: 'admin' }),
      () => caller.admin.users.setRole({ userId: admin.id, role: 'superadmin' }),
      () => caller.admin.users.suspend({ userId: otherAdmin.id, reason: 'coup' }),
      () => caller.admin.users.revokeSessions({ userId: otherAdmin.id }),
      () => caller.admin.users.setPlan({ userId: otherAdmin.id, planCode: 'enterprise' }),
      () => caller.admin.users.setRole({ userId: superadmin.id, role: 'patient' }),
      () => caller.admin.users.suspend({ userId: admin.id, reason: 'self' }),
    ];
    for (const attempt of attempts) {
      const err = await errorOf(attempt());
      expect(err.code).toBe('FORBIDDEN');
      expect(detailsOf(err)?.reason).toBe('insufficient_privilege');
    }
    // Nothing changed, nothing was audited, live tokens still work.
    expect(await claimsOf(otherAdmin.accessToken)).not.toBeNull();
    expect(await claimsOf(user.accessToken)).toMatchObject({ role: 'patient' });
    expect(await auditCount('admin.users.suspend', otherAdmin.id)).toBe(0);

    // A therapist lacks roles.assign: refused by the policy, before any query.
    const denied = await countQueries(async () =>
      errorOf((await as(therapist)).admin.users.setRole({ userId: user.id, role: 'therapist' })),
    );
    expect(denied.result.code).toBe('FORBIDDEN');
    expect(detailsOf(denied.result)).toEqual({ reason: 'missing_permission', required: 'roles.assign' });
    expect(denied.queries).toBe(0);

    // A superadmin may make an admin; nobody may make a superadmin.
    await (await as(superadmin)).admin.users.setRole({ userId: user.id, role: 'admin' });
    const topErr = await errorOf(
      (await as(superadmin)).admin.users.setRole({ userId: otherAdmin.id, role: 'superadmin' }),
    );
    expect(detailsOf(topErr)?.reason).toBe('insufficient_privilege');
  });

  it('answers NOT_FOUND for an unknown user or role', async () => {
    const caller = await as(admin);
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const call of [
      () => caller.admin.users.setRole({ userId: missing, role: 'therapist' }),
      () => caller.admin.users.suspend({ userId: missing, reason: 'x' }),
      () => caller.admin.users.unsuspend({ userId: missing }),
      () => caller.admin.users.revokeSessions({ userId: missing }),
      () => caller.admin.users.setPlan({ userId: missing, planCode: 'basic' }),
      () => caller.admin.users.setRole({ userId: therapist.id, role: 'wizard' }),
    ])
      expect((await errorOf(call())).code).toBe('NOT_FOUND');
  });

  it('makes zero queries on the auth path of every gated procedure it owns', async () => {
    // A revoked or missing token is refused before the resolver: no statement at all.
    const user = await makeUser('patient');
    const callers = [
      (c: ReturnType<typeof callerFor>) => c.auth.me(),
      (c: ReturnType<typeof callerFor>) => c.auth.logoutAll(),
      (c: ReturnType<typeof callerFor>) =>
        c.auth.changePassword({ currentPassword: PASSWORD, newPassword: 'another one!' }),
      (c: ReturnType<typeof callerFor>) => c.admin.users.list({}),
      (c: ReturnType<typeof callerFor>) => c.admin.users.setRole({ userId: user.id, role: 'patient' }),
      (c: ReturnType<typeof callerFor>) => c.admin.users.setPlan({ userId: user.id, planCode: 'free' }),
      (c: ReturnType<typeof callerFor>) => c.admin.users.suspend({ userId: user.id, reason: 'x' }),
      (c: ReturnType<typeof callerFor>) => c.admin.users.unsuspend({ userId: user.id }),
      (c: ReturnType<typeof callerFor>) => c.admin.users.revokeSessions({ userId: user.id }),
    ];
    const patient = await as(user);
    for (const call of callers) {
      const anonymous = await countQueries(() => errorOf(call(callerFor(deps, null))));
      expect(anonymous.result.code).toBe('UNAUTHORIZED');
      expect(anonymous.queries).toBe(0);
    }
    for (const call of callers.slice(3)) {
      const denied = await countQueries(() => errorOf(call(patient)));
      expect(denied.result.code).toBe('FORBIDDEN');
      expect(denied.queries).toBe(0);
    }
    // Verification and the revocation check themselves: zero statements.
    const { queries } = await countQueries(() => claimsOf(user.accessToken));
    expect(queries).toBe(0);
  });
});
