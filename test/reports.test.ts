// reports.* over HTTP (GET /reports/<kind>): the Enterprise gate, JSON and CSV series over
// a date range, statement counts, the audit entry, and strict inputs.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { csvField } from '../server/domain/documents.ts';
import { type Account, ADMIN_ENV, account, download, serverQueries } from './accounts.ts';
import { startTestServer, type TestServer } from './server.ts';

const DAY = 86_400_000;
const iso = (d: Date) => encodeURIComponent(d.toISOString());

describe('reports.*', () => {
  let server: TestServer;
  let me: Account;
  const now = Date.now();
  beforeAll(async () => {
    server = await startTestServer({ env: ADMIN_ENV });
    me = await account(server, 'enterprise');
    // 600 entries, one an hour back from now (25 days), the newest tagged like a formula.
    await server.deps.db.execute(
      sql`INSERT INTO mood_entries (user_id, score, tags, created_at)
          SELECT ${me.id}, 1 + g % 10, CASE WHEN g = 1 THEN ARRAY['=cmd()', 'a,b'] ELSE ARRAY['calm'] END,
                 now() - make_interval(hours => g)
          FROM generate_series(1, 600) g`,
    );
    await me.api.assessments.submit.mutate({ instrument: 'GAD7', answers: [1, 1, 1, 1, 1, 1, 1] });
  });
  afterAll(async () => {
    await server?.close();
  });

  const reportAudits = async (userId: string) =>
    queryRows(
      server.deps.db,
      z.object({ action: z.string(), details: z.unknown() }),
      sql`SELECT action, details FROM audit_log WHERE actor_id = ${userId} AND action LIKE 'reports.%' ORDER BY id`,
    );

  it('is refused below Enterprise (missing_feature), nothing audited', async () => {
    const premium = await account(server, 'premium');
    const res = await download(
      server,
      `/reports/mood?from=${iso(new Date(now - DAY))}&to=${iso(new Date(now))}`,
      premium.token,
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { data: unknown } }).error.data).toMatchObject({
      reason: 'missing_feature',
      required: 'advanced_reporting',
    });
    expect(await reportAudits(premium.id)).toEqual([]);
  });

  it('mood as JSON: the range only, oldest first, 1 + pages statements, audited', async () => {
    const from = new Date(now - 10 * DAY);
    const { result, queries } = await serverQueries(async () => {
      const res = await download(
        server,
        `/reports/mood?from=${iso(from)}&to=${iso(new Date(now))}`,
        me.token,
      );
      return { res, body: await res.text() };
    });
    expect(result.res.status).toBe(200);
    const doc = JSON.parse(result.body);
    expect(doc.columns).toEqual(['createdAt', 'score', 'tags']);
    expect(doc.rows).toHaveLength(240); // one an hour for 10 days
    expect(doc.rows[0][0] < doc.rows[239][0]).toBe(true);
    expect(queries).toBe(2); // the audit entry, one page
    const audits = await reportAudits(me.id);
    expect(audits.at(-1)).toMatchObject({ action: 'reports.mood', details: { format: 'json' } });
  });

  it('mood as CSV over the whole history: 600 rows in two pages, formula-safe fields', async () => {
    const { result, queries } = await serverQueries(async () => {
      const res = await download(
        server,
        `/reports/mood?format=csv&from=${iso(new Date(now - 30 * DAY))}&to=${iso(new Date(now + DAY))}`,
        me.token,
      );
      return { res, body: await res.text() };
    });
    expect(result.res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(result.res.headers.get('content-disposition')).toBe('attachment; filename="manas360-mood.csv"');
    const lines = result.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('createdAt,score,tags');
    expect(lines).toHaveLength(601);
    expect(lines.at(-1)).toMatch(/,"'=cmd\(\);a,b"$/);
    expect(queries).toBe(3); // the audit entry, 500 + 100
    expect(csvField('-1+1')).toBe("'-1+1");
    expect(csvField(-1)).toBe('-1');
  });

  it('assessments and sessions', async () => {
    const range = `from=${iso(new Date(now - DAY))}&to=${iso(new Date(now + DAY))}`;
    const assessments = JSON.parse(
      await (await download(server, `/reports/assessments?${range}`, me.token)).text(),
    );
    expect(assessments.rows).toEqual([[expect.any(String), 'GAD7', 7, 'mild']]);
    const none = JSON.parse(
      await (await download(server, `/reports/assessments?${range}&instrument=PHQ9`, me.token)).text(),
    );
    expect(none.rows).toEqual([]);
    const sessions = await download(server, `/reports/sessions?${range}&format=csv`, me.token);
    expect(await sessions.text()).toBe('startsAt,as,durationMinutes,status\r\n');
  });

  it('refuses bad input with 400 and audits nothing', async () => {
    const before = (await reportAudits(me.id)).length;
    for (const query of [
      'from=yesterday&to=today',
      `from=${iso(new Date(now))}`,
      `from=${iso(new Date(now))}&to=${iso(new Date(now - DAY))}`,
      `from=${iso(new Date(now - 2000 * DAY))}&to=${iso(new Date(now))}`,
      `from=${iso(new Date(now - DAY))}&to=${iso(new Date(now))}&format=xlsx`,
      `from=${iso(new Date(now - DAY))}&to=${iso(new Date(now))}&instrument=BDI`,
    ]) {
      const res = await download(server, `/reports/assessments?${query}`, me.token);
      expect(res.status, query).toBe(400);
    }
    expect((await download(server, '/reports/everything', me.token)).status).toBe(404);
    expect((await reportAudits(me.id)).length).toBe(before);
  });
});
