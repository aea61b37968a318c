// insights.* over HTTP: the Premium gate, each insight's figures on a known history, one
// statement each, and strict inputs.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Account, ADMIN_ENV, account, failure, serverQueries } from './accounts.ts';
import { startTestServer, type TestServer } from './server.ts';

describe('insights.*', () => {
  let server: TestServer;
  let me: Account;
  beforeAll(async () => {
    server = await startTestServer({ env: ADMIN_ENV });
    me = await account(server, 'premium');
    // Today, yesterday and the day before (a live streak of 3); five days in a row three
    // weeks ago (the longest, 5); tags with known scores.
    const day = (daysAgo: number, score: number, tags: string[]) =>
      sql`(${me.id}::uuid, ${score}::smallint, ${`{${tags.join(',')}}`}::text[],
           date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '12 hours' - make_interval(days => ${daysAgo}::int))`;
    await server.deps.db.execute(
      sql`INSERT INTO mood_entries (user_id, score, tags, created_at) VALUES
          ${sql.join([day(0, 8, ['sleep']), day(1, 8, ['sleep', 'exercise']), day(2, 2, ['work']), day(20, 5, []), day(21, 5, []), day(22, 5, []), day(23, 5, []), day(24, 5, [])], sql`, `)}`,
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is refused below Premium (missing_feature) and needs no query to refuse', async () => {
    const basic = await account(server, 'basic');
    const { result: err, queries } = await serverQueries(() => failure(basic.api.insights.streaks.query()));
    expect(err.data).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'missing_feature',
      required: 'premium_dashboard',
    });
    expect(queries).toBe(0);
  });

  it('streaks: current 3 (today back), longest 5; one statement', async () => {
    const { result, queries } = await serverQueries(() => me.api.insights.streaks.query());
    expect(queries).toBe(1);
    expect(result).toMatchObject({ current: 3, longest: 5, daysLogged: 8 });
  });

  it('moodTrend: weekly averages within the window; one statement', async () => {
    const { result: week, queries } = await serverQueries(() => me.api.insights.moodTrend.query({ days: 7 }));
    expect(queries).toBe(1);
    expect(week).toMatchObject({ days: 7, entries: 3, average: 6 });
    expect(week.weeks.reduce((n, w) => n + w.entries, 0)).toBe(3);
    for (const w of week.weeks) expect(new Date(`${w.weekStart}T00:00:00Z`).getUTCDay()).toBe(1); // Mondays
    const month = await me.api.insights.moodTrend.query({ days: 30 });
    expect(month).toMatchObject({ entries: 8, average: 5.38 });
  });

  it('tags: per-tag average against the overall one; one statement', async () => {
    const { result, queries } = await serverQueries(() => me.api.insights.tags.query({ days: 7 }));
    expect(queries).toBe(1);
    expect(result.average).toBe(6);
    expect(result.tags).toEqual([
      { tag: 'sleep', entries: 2, average: 8, difference: 2 },
      { tag: 'exercise', entries: 1, average: 8, difference: 2 },
      { tag: 'work', entries: 1, average: 2, difference: -4 },
    ]);
  });

  it('assessments: the trajectory with band changes; one statement', async () => {
    const phq = (score: number) =>
      Array.from({ length: 9 }, (_, i) => (i < 8 ? Math.min(3, Math.max(0, score - i * 3)) : 0));
    await me.api.assessments.submit.mutate({ instrument: 'PHQ9', answers: phq(3) }); // 3 minimal
    await me.api.assessments.submit.mutate({ instrument: 'PHQ9', answers: phq(12) }); // 12 moderate
    await me.api.assessments.submit.mutate({ instrument: 'PHQ9', answers: phq(13) }); // 13 moderate
    await me.api.assessments.submit.mutate({ instrument: 'PHQ9', answers: phq(6) }); // 6 mild
    const { result, queries } = await serverQueries(() =>
      me.api.insights.assessments.query({ instrument: 'PHQ9' }),
    );
    expect(queries).toBe(1);
    expect(result.points.map((p) => [p.score, p.severity, p.bandChange])).toEqual([
      [3, 'minimal', null],
      [12, 'moderate', { from: 'minimal', to: 'moderate', direction: 'worse' }],
      [13, 'moderate', null],
      [6, 'mild', { from: 'moderate', to: 'mild', direction: 'better' }],
    ]);
    expect((await me.api.insights.assessments.query({ instrument: 'GAD7' })).points).toEqual([]);
  });

  it('refuses bad input with 400', async () => {
    const bad = [
      () => me.api.insights.moodTrend.query({ days: 14 as 7 }),
      () => me.api.insights.tags.query({ days: 7, extra: 1 } as never),
      () => me.api.insights.assessments.query({ days: 5000 }),
      () => me.api.insights.assessments.query({ instrument: 'BDI' as 'PHQ9' }),
    ];
    for (const call of bad)
      expect((await failure(call())).data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
  });
});
