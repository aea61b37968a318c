// mood.* and assessments.*: logging, keyset pages, scoring bands, the crisis alert that is
// saved with its assessment, policy and bad input.
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { crisisAlerts, moodEntries } from '../db/schema/index.ts';
import { scoreAssessment } from '../server/domain/assessments.ts';
import { createUser, expectError, measure, queriesOf, type TestUser } from './fixtures/domain.ts';
import { callerFor, createTestDeps, DB_KINDS } from './helpers.ts';

describe('assessment scoring', () => {
  it.each([
    ['PHQ9', 0, 'minimal'],
    ['PHQ9', 4, 'minimal'],
    ['PHQ9', 5, 'mild'],
    ['PHQ9', 9, 'mild'],
    ['PHQ9', 10, 'moderate'],
    ['PHQ9', 14, 'moderate'],
    ['PHQ9', 15, 'moderately severe'],
    ['PHQ9', 19, 'moderately severe'],
    ['PHQ9', 20, 'severe'],
    ['PHQ9', 27, 'severe'],
    ['GAD7', 0, 'minimal'],
    ['GAD7', 4, 'minimal'],
    ['GAD7', 5, 'mild'],
    ['GAD7', 9, 'mild'],
    ['GAD7', 10, 'moderate'],
    ['GAD7', 14, 'moderate'],
    ['GAD7', 15, 'severe'],
    ['GAD7', 21, 'severe'],
  ] as const)('%s score %i is %s', (instrument, score, severity) => {
    // Fill the items in order, each up to 3.
    const answers = Array.from({ length: instrument === 'PHQ9' ? 9 : 7 }, (_, i) =>
      Math.max(0, Math.min(3, score - 3 * i)),
    );
    expect(answers.reduce((a, b) => a + b, 0)).toBe(score);
    expect(scoreAssessment(instrument, answers)).toMatchObject({ score, severity });
  });

  it('sets crisis only for PHQ-9 item 9 above 0', () => {
    expect(scoreAssessment('PHQ9', [0, 0, 0, 0, 0, 0, 0, 0, 1]).crisis).toBe(true);
    expect(scoreAssessment('PHQ9', [3, 3, 3, 3, 3, 3, 3, 3, 0]).crisis).toBe(false);
    expect(scoreAssessment('GAD7', [3, 3, 3, 3, 3, 3, 3]).crisis).toBe(false);
  });
});

describe.each(DB_KINDS)('mood and assessments on %s', (kind) => {
  let deps: Awaited<ReturnType<typeof createTestDeps>>;
  let patient: TestUser;
  let therapist: TestUser;
  beforeAll(async () => {
    deps = await createTestDeps(kind);
    patient = await createUser(deps.db);
    therapist = await createUser(deps.db, { role: 'therapist' });
  });
  afterAll(async () => {
    await deps?.dispose();
  });

  describe('mood.log', () => {
    it('saves an entry in one query', async () => {
      const { result, queries } = await measure(() =>
        callerFor(deps, patient.claims).mood.log({
          score: 7,
          note: 'slept well',
          tags: ['Sleep', 'sleep', 'work'],
        }),
      );
      expect(queries).toBe(1);
      expect(result).toMatchObject({ score: 7, note: 'slept well', tags: ['sleep', 'work'] });
      expect(result.createdAt).toBeInstanceOf(Date);
    });

    it('accepts a 5,000-character note', async () => {
      const entry = await callerFor(deps, patient.claims).mood.log({ score: 1, note: 'n'.repeat(5000) });
      expect(entry.note).toHaveLength(5000);
    });

    it.each([
      ['score 0', { score: 0 }],
      ['score 11', { score: 11 }],
      ['score 5.5', { score: 5.5 }],
      ['a 5,001-character note', { score: 5, note: 'n'.repeat(5001) }],
      ['21 tags', { score: 5, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }],
      ['a 41-character tag', { score: 5, tags: ['t'.repeat(41)] }],
      ['an unknown key', { score: 5, userId: '00000000-0000-0000-0000-000000000000' }],
      ['a missing score', {}],
    ])('rejects %s with BAD_REQUEST and no query', async (_what, input) => {
      const queries = await queriesOf(() =>
        expectError(callerFor(deps, patient.claims).mood.log(input as never), 'BAD_REQUEST'),
      );
      expect(queries).toBe(0);
    });

    it('refuses a therapist (no mood.write) and an anonymous caller', async () => {
      await expectError(callerFor(deps, therapist.claims).mood.log({ score: 5 }), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'mood.write',
      });
      await expectError(callerFor(deps, null).mood.log({ score: 5 }), 'UNAUTHORIZED');
    });

    it('refuses a plan without mood_tracking', async () => {
      const claims = { ...patient.claims, features: [] };
      await expectError(callerFor(deps, claims).mood.log({ score: 5 }), 'FORBIDDEN', {
        reason: 'missing_feature',
        required: 'mood_tracking',
      });
    });
  });

  describe('mood.list', () => {
    let logger: TestUser;
    beforeAll(async () => {
      logger = await createUser(deps.db);
      // 25 entries, several sharing one created_at to exercise the id tie-break, and
      // timestamps with microseconds (which a millisecond cursor would get wrong).
      const base = Date.parse('2026-01-10T12:00:00Z');
      await deps.db.insert(moodEntries).values(
        Array.from({ length: 25 }, (_, i) => ({
          userId: logger.id,
          score: (i % 10) + 1,
          createdAt: new Date(base + Math.floor(i / 3) * 86_400_000),
        })),
      );
      await deps.db.execute(
        sql`UPDATE mood_entries SET created_at = created_at + (random() * interval '900 microseconds')
            WHERE user_id = ${logger.id} AND score > 7`,
      );
    });

    it('pages newest first with a cursor, each entry exactly once, one query per page', async () => {
      const caller = callerFor(deps, logger.claims);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const { result, queries } = await measure(() =>
          caller.mood.list({ limit: 4, ...(cursor ? { cursor } : {}) }),
        );
        expect(queries).toBe(1);
        seen.push(...result.items.map((e) => e.id));
        if (!result.nextCursor) break;
        cursor = result.nextCursor;
      }
      const [expected] = await queryRows(
        deps.db,
        z.object({ ids: z.array(z.string()) }),
        sql`SELECT array_agg(id ORDER BY created_at DESC, id DESC) AS ids FROM mood_entries WHERE user_id = ${logger.id}`,
      );
      expect(seen).toEqual(expected!.ids);
      expect(seen).toHaveLength(25);
    });

    it('defaults to 20 items and filters by date range', async () => {
      const caller = callerFor(deps, logger.claims);
      const first = await caller.mood.list({});
      expect(first.items).toHaveLength(20);
      expect(first.nextCursor).not.toBeNull();
      const ranged = await caller.mood.list({
        from: new Date('2026-01-11T00:00:00Z'),
        to: new Date('2026-01-12T23:59:59Z'),
        limit: 100,
      });
      expect(ranged.items).toHaveLength(6);
      expect(ranged.nextCursor).toBeNull();
    });

    it("shows only the caller's own entries", async () => {
      const other = await createUser(deps.db);
      expect((await callerFor(deps, other.claims).mood.list({})).items).toEqual([]);
    });

    it.each([
      ['a limit of 101', { limit: 101 }],
      ['from after to', { from: new Date('2026-02-01'), to: new Date('2026-01-01') }],
      ['a date as a string', { from: '2026-01-01' }],
      ['a garbage cursor', { cursor: '!!!' }],
      [
        'a cursor with a bad uuid',
        { cursor: Buffer.from('["2026-01-01T00:00:00.000000Z","x"]').toString('base64url') },
      ],
      ['a 513-character cursor', { cursor: 'a'.repeat(513) }],
    ])('rejects %s with BAD_REQUEST and no query', async (_what, input) => {
      const queries = await queriesOf(() =>
        expectError(callerFor(deps, patient.claims).mood.list(input as never), 'BAD_REQUEST'),
      );
      expect(queries).toBe(0);
    });

    it('refuses a therapist (no mood.read)', async () => {
      await expectError(callerFor(deps, therapist.claims).mood.list({}), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'mood.read',
      });
    });
  });

  describe('assessments.submit', () => {
    it('scores a GAD-7 in one query', async () => {
      const { result, queries } = await measure(() =>
        callerFor(deps, patient.claims).assessments.submit({
          instrument: 'GAD7',
          answers: [3, 3, 2, 2, 1, 1, 0],
        }),
      );
      expect(queries).toBe(1);
      expect(result).toMatchObject({ score: 12, severity: 'moderate', crisis: false });
    });

    it('raises a crisis alert with a PHQ-9 whose item 9 is above 0, in the same single query', async () => {
      const { result, queries } = await measure(() =>
        callerFor(deps, patient.claims).assessments.submit({
          instrument: 'PHQ9',
          answers: [1, 1, 1, 1, 1, 0, 0, 0, 2],
        }),
      );
      expect(queries).toBe(1);
      expect(result).toMatchObject({ score: 7, severity: 'mild', crisis: true });
      const alerts = await deps.db
        .select()
        .from(crisisAlerts)
        .where(eq(crisisAlerts.assessmentId, result.id));
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ userId: patient.id, status: 'open' });
    });

    it('raises no alert when item 9 is 0, however high the score', async () => {
      const result = await callerFor(deps, patient.claims).assessments.submit({
        instrument: 'PHQ9',
        answers: [3, 3, 3, 3, 3, 3, 3, 3, 0],
      });
      expect(result).toMatchObject({ score: 24, severity: 'severe', crisis: false });
      expect(
        await deps.db.select().from(crisisAlerts).where(eq(crisisAlerts.assessmentId, result.id)),
      ).toEqual([]);
    });

    it.each([
      ['8 answers for PHQ-9', { instrument: 'PHQ9', answers: [0, 0, 0, 0, 0, 0, 0, 0] }],
      ['9 answers for GAD-7', { instrument: 'GAD7', answers: [0, 0, 0, 0, 0, 0, 0, 0, 0] }],
      ['an answer of 4', { instrument: 'GAD7', answers: [4, 0, 0, 0, 0, 0, 0] }],
      ['a negative answer', { instrument: 'GAD7', answers: [-1, 0, 0, 0, 0, 0, 0] }],
      ['a fractional answer', { instrument: 'GAD7', answers: [1.5, 0, 0, 0, 0, 0, 0] }],
      ['a null answer', { instrument: 'GAD7', answers: [null, 0, 0, 0, 0, 0, 0] }],
      ['an unknown instrument', { instrument: 'BDI', answers: [0, 0, 0] }],
      ['a client-supplied score', { instrument: 'GAD7', answers: [0, 0, 0, 0, 0, 0, 0], score: 0 }],
    ])('rejects %s with BAD_REQUEST and no query', async (_what, input) => {
      const queries = await queriesOf(() =>
        expectError(callerFor(deps, patient.claims).assessments.submit(input as never), 'BAD_REQUEST'),
      );
      expect(queries).toBe(0);
    });

    it('refuses a therapist and a plan without the assessments feature', async () => {
      const input = { instrument: 'GAD7' as const, answers: [0, 0, 0, 0, 0, 0, 0] };
      await expectError(callerFor(deps, therapist.claims).assessments.submit(input), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'assessments.submit',
      });
      await expectError(
        callerFor(deps, { ...patient.claims, features: [] }).assessments.submit(input),
        'FORBIDDEN',
        {
          reason: 'missing_feature',
          required: 'assessments',
        },
      );
    });
  });

  describe('assessments.history', () => {
    it("pages the caller's assessments newest first, filtered by instrument, one query each", async () => {
      const user = await createUser(deps.db);
      const caller = callerFor(deps, user.claims);
      for (let i = 0; i < 5; i++) {
        await caller.assessments.submit({ instrument: 'GAD7', answers: [i % 4, 0, 0, 0, 0, 0, 0] });
        // Each its own created_at: two submissions in the same clock tick (PGlite's clock is
        // coarse) tie, and a tie is ordered by id, which is random.
        await new Promise((r) => setTimeout(r, 5));
      }
      await caller.assessments.submit({ instrument: 'PHQ9', answers: [1, 0, 0, 0, 0, 0, 0, 0, 0] });
      const { result: page1, queries } = await measure(() =>
        caller.assessments.history({ instrument: 'GAD7', limit: 3 }),
      );
      expect(queries).toBe(1);
      expect(page1.items).toHaveLength(3);
      expect(page1.items.every((a) => a.instrument === 'GAD7')).toBe(true);
      const page2 = await caller.assessments.history({
        instrument: 'GAD7',
        limit: 3,
        cursor: page1.nextCursor!,
      });
      expect(page2.items).toHaveLength(2);
      expect(page2.nextCursor).toBeNull();
      expect(page2.items.at(-1)?.score).toBe(0);
      expect((await caller.assessments.history()).items).toHaveLength(6);
    });

    it('rejects bad input and refuses a therapist', async () => {
      await expectError(
        callerFor(deps, patient.claims).assessments.history({ instrument: 'X' } as never),
        'BAD_REQUEST',
      );
      await expectError(callerFor(deps, therapist.claims).assessments.history(), 'FORBIDDEN', {
        reason: 'missing_permission',
        required: 'assessments.read',
      });
    });
  });
});
