// users.profile / users.updateProfile, subscriptions.current and therapists.list.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriptions, users } from '../db/schema/index.ts';
import { createUser, expectError, measure, queriesOf, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS } from './helpers.ts';

describe.each(DB_KINDS)('profiles, plans and the therapist directory on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let patient: TestUser;
  let therapist: TestUser;
  let admin: TestUser;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
    patient = await createUser(deps.db, { name: 'Asha Patient' });
    therapist = await createUser(deps.db, {
      role: 'therapist',
      name: 'Dr Meera',
      profile: { specializations: ['anxiety', 'depression'], languages: ['en', 'hi'], feePaise: 150000 },
    });
    admin = await createUser(deps.db, { role: 'admin' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  describe('users.profile', () => {
    it("returns the caller's profile in one query", async () => {
      const { result, queries } = await measure(() => callerFor(deps, patient.claims).users.profile());
      expect(result).toMatchObject({
        id: patient.id,
        email: patient.email,
        role: 'patient',
        therapist: null,
      });
      expect(queries).toBe(1);
    });

    it("includes a therapist's specializations, languages and fee", async () => {
      const profile = await callerFor(deps, therapist.claims).users.profile();
      expect(profile.therapist).toMatchObject({
        specializations: ['anxiety', 'depression'],
        languages: ['en', 'hi'],
        feePaise: 150000,
      });
    });

    it('refuses an anonymous caller', async () => {
      await expectError(callerFor(deps, null).users.profile(), 'UNAUTHORIZED');
    });

    it('refuses a token without profile.read', async () => {
      const claims = {
        ...patient.claims,
        permissions: patient.claims.permissions.filter((p) => p !== 'profile.read'),
      };
      await expectError(callerFor(deps, claims).users.profile(), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'profile.read',
      });
    });

    it('answers UNAUTHORIZED for a deleted user (the token outlived its user), not 500', async () => {
      const gone = await createUser(deps.db);
      await deps.db.update(users).set({ deletedAt: new Date() }).where(eq(users.id, gone.id));
      await expectError(callerFor(deps, gone.claims).users.profile(), 'UNAUTHORIZED');
    });
  });

  describe('users.updateProfile', () => {
    it('updates name, phone and language in two queries and returns the profile', async () => {
      const user = await createUser(deps.db);
      const { result, queries } = await measure(() =>
        callerFor(deps, user.claims).users.updateProfile({
          name: 'New Name',
          phone: '+91 98765 43210',
          language: 'hi-IN',
        }),
      );
      expect(result).toMatchObject({ name: 'New Name', phone: '+91 98765 43210', language: 'hi-IN' });
      expect(queries).toBe(2);
      const cleared = await callerFor(deps, user.claims).users.updateProfile({ phone: null });
      expect(cleared).toMatchObject({ name: 'New Name', phone: null, language: 'hi-IN' });
    });

    it('lets a therapist create and then change the directory fields, in two queries', async () => {
      const t = await createUser(deps.db, { role: 'therapist' });
      const caller = callerFor(deps, t.claims);
      const { result, queries } = await measure(() =>
        caller.users.updateProfile({ specializations: ['Trauma', 'trauma', ' grief '], feePaise: 99900 }),
      );
      expect(queries).toBe(2);
      expect(result.therapist).toMatchObject({
        specializations: ['trauma', 'grief'],
        languages: [],
        feePaise: 99900,
        acceptingPatients: true,
      });
      const changed = await caller.users.updateProfile({
        name: 'Dr T',
        languages: ['ta'],
        acceptingPatients: false,
      });
      expect(changed).toMatchObject({ name: 'Dr T' });
      expect(changed.therapist).toMatchObject({
        specializations: ['trauma', 'grief'],
        languages: ['ta'],
        feePaise: 99900,
        acceptingPatients: false,
      });
    });

    it('refuses therapist fields from a patient', async () => {
      await expectError(callerFor(deps, patient.claims).users.updateProfile({ feePaise: 1 }), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'sessions.manage',
      });
    });

    it.each([
      ['an unknown key', { name: 'x', role: 'superadmin' }],
      ['an empty update', {}],
      ['an empty name', { name: '  ' }],
      ['a 101-character name', { name: 'a'.repeat(101) }],
      ['a phone with letters', { phone: 'call me maybe' }],
      ['a bad language tag', { language: 'english please' }],
      ['21 specializations', { specializations: Array.from({ length: 21 }, (_, i) => `s${i}`) }],
      ['a 41-character specialization', { specializations: ['a'.repeat(41)] }],
      ['a negative fee', { feePaise: -1 }],
      ['a fractional fee', { feePaise: 10.5 }],
    ])('rejects %s with BAD_REQUEST and no query', async (_what, input) => {
      const queries = await queriesOf(() =>
        expectError(callerFor(deps, therapist.claims).users.updateProfile(input as never), 'BAD_REQUEST'),
      );
      expect(queries).toBe(0);
    });
  });

  describe('subscriptions.current', () => {
    it('returns the plan, status and period end in one query', async () => {
      const basic = await createUser(deps.db, { plan: 'basic' });
      const { result, queries } = await measure(() => callerFor(deps, basic.claims).subscriptions.current());
      expect(result.plan).toBe('basic');
      expect(result.status).toBe('active');
      expect(result.currentPeriodEnd).toBeInstanceOf(Date);
      expect(queries).toBe(1);
    });

    it("reports 'free' for a cancelled subscription and 'none' for a user who never subscribed", async () => {
      const lapsed = await createUser(deps.db, { plan: 'premium' });
      await deps.db
        .update(subscriptions)
        .set({ status: 'cancelled' })
        .where(eq(subscriptions.userId, lapsed.id));
      expect(await callerFor(deps, lapsed.claims).subscriptions.current()).toMatchObject({
        plan: 'free',
        status: 'cancelled',
      });
      const never = await createUser(deps.db);
      await deps.db.delete(subscriptions).where(eq(subscriptions.userId, never.id));
      expect(await callerFor(deps, never.claims).subscriptions.current()).toEqual({
        plan: 'free',
        status: 'none',
        currentPeriodEnd: null,
        cancelAtPeriodEnd: false,
      });
    });

    it('refuses an anonymous caller', async () => {
      await expectError(callerFor(deps, null).subscriptions.current(), 'UNAUTHORIZED');
    });
  });

  describe('therapists.list', () => {
    let directory: TestUser[];
    beforeAll(async () => {
      directory = [];
      for (const [name, specializations, languages] of [
        ['Dir A', ['anxiety'], ['en']],
        ['Dir B', ['ocd'], ['hi']],
        ['Dir C', ['anxiety', 'ocd'], ['en', 'hi']],
      ] as const)
        directory.push(
          await createUser(deps.db, {
            role: 'therapist',
            name,
            profile: { specializations: [...specializations], languages: [...languages], feePaise: 50000 },
          }),
        );
      // A therapist without a profile yet, and a patient: the first is listed, the second never.
      directory.push(await createUser(deps.db, { role: 'therapist', name: 'Dir D' }));
      await createUser(deps.db, { name: 'Dir Patient' });
    });

    it('lists only therapists, with their profiles, in one query', async () => {
      const { result, queries } = await measure(() =>
        callerFor(deps, patient.claims).therapists.list({ limit: 100 }),
      );
      expect(queries).toBe(1);
      const names = result.items.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['Dir A', 'Dir B', 'Dir C', 'Dir D', 'Dr Meera']));
      expect(names).not.toContain('Dir Patient');
      expect(names).not.toContain(patient.name);
      expect(result.items.find((t) => t.name === 'Dir D')).toMatchObject({
        specializations: [],
        languages: [],
        feePaise: 0,
      });
      expect(result.items[0]).not.toHaveProperty('email');
    });

    it('filters by specialization and language', async () => {
      const caller = callerFor(deps, patient.claims);
      const anxiety = await caller.therapists.list({ specialization: 'Anxiety', limit: 100 });
      expect(anxiety.items.map((t) => t.name).sort()).toEqual(['Dir A', 'Dir C', 'Dr Meera']);
      const hindiOcd = await caller.therapists.list({ specialization: 'ocd', language: 'hi' });
      expect(hindiOcd.items.map((t) => t.name).sort()).toEqual(['Dir B', 'Dir C']);
    });

    it('pages through the directory with a cursor, each therapist once', async () => {
      const caller = callerFor(deps, admin.claims);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const res = await caller.therapists.list({ limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...res.items.map((t) => t.id));
        if (!res.nextCursor) break;
        cursor = res.nextCursor;
      }
      const all = await caller.therapists.list({ limit: 100 });
      expect(seen).toEqual(all.items.map((t) => t.id));
      expect(new Set(seen).size).toBe(seen.length);
    });

    it.each([
      ['a limit of 101', { limit: 101 }],
      ['a limit of 0', { limit: 0 }],
      ['a forged cursor', { cursor: 'eyJub3QiOiJhIGN1cnNvciJ9' }],
      [
        'a cursor with SQL in it',
        { cursor: Buffer.from(JSON.stringify(["x' OR 1=1 --", 'nope'])).toString('base64url') },
      ],
      ['an unknown key', { sort: 'fee' }],
      ['a long specialization', { specialization: 'x'.repeat(41) }],
    ])('rejects %s with BAD_REQUEST and no query', async (_what, input) => {
      const queries = await queriesOf(() =>
        expectError(callerFor(deps, patient.claims).therapists.list(input as never), 'BAD_REQUEST'),
      );
      expect(queries).toBe(0);
    });

    it('refuses an anonymous caller', async () => {
      await expectError(callerFor(deps, null).therapists.list(), 'UNAUTHORIZED');
    });
  });
});
