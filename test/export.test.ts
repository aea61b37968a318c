// export.mine over HTTP (GET /export and httpBatchStreamLink): the plan gate, the complete
// document, the session-notes rule, paging for long histories (statement counts), the
// hourly limit and the audit entry.
import { createTRPCClient, httpBatchStreamLink, TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { countRow } from '../db/row.ts';
import type { AppRouter } from '../shared/index.ts';
import { type Account, ADMIN_ENV, account, download, serverQueries } from './accounts.ts';
import { bearer, startTestServer, type TestServer } from './server.ts';

const nextWholeHour = (hoursAhead: number) =>
  new Date((Math.floor(Date.now() / 3_600_000) + hoursAhead) * 3_600_000);

describe('export.mine', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: ADMIN_ENV });
  });
  afterAll(async () => {
    await server?.close();
  });

  const auditCount = async (userId: string, action: string) =>
    (
      await queryRows(
        server.deps.db,
        countRow,
        sql`SELECT count(*)::int AS n FROM audit_log WHERE actor_id = ${userId} AND action = ${action}`,
      )
    )[0]!.n;

  it('is refused on the free plan (missing_feature), with nothing recorded', async () => {
    const free = await account(server, 'free');
    const res = await download(server, '/export', free.token);
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { data: { reason: string; required: string } } };
    expect(body.error.data).toMatchObject({ reason: 'missing_feature', required: 'data_export' });
    expect(await auditCount(free.id, 'export.mine')).toBe(0);
    expect((await download(server, '/export')).status).toBe(401);
  });

  it('answers a domain error raised while the document starts with its own status (404, not 500)', async () => {
    const gone = await account(server, 'basic');
    // Deleted behind the token's back: the token still verifies, the export finds no user.
    await server.deps.db.execute(sql`UPDATE users SET deleted_at = now() WHERE id = ${gone.id}`);
    const res = await download(server, '/export', gone.token);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { data: { code: string } } }).error.data.code).toBe('NOT_FOUND');
  });

  it('refuses input (400) before any work: no audit entry, the hourly export still unused', async () => {
    const basic = await account(server, 'basic');
    const res = await fetch(
      `${server.url}/trpc/export.mine?input=${encodeURIComponent(JSON.stringify({ json: { all: true } }))}`,
      { headers: bearer(basic.token) },
    );
    expect(res.status).toBe(400);
    // A HEAD does not start an export either.
    const head = await fetch(`${server.url}/export`, { method: 'HEAD', headers: bearer(basic.token) });
    expect(head.status).toBe(404);
    expect(await auditCount(basic.id, 'export.mine')).toBe(0);
    expect((await download(server, '/export', basic.token)).status).toBe(200);
  });

  it('streams the complete document in 10 statements, audits it, and allows one an hour', async () => {
    const me = await account(server, 'basic');
    await me.api.mood.log.mutate({ score: 6, note: 'slept well', tags: ['sleep'] });
    await me.api.assessments.submit.mutate({ instrument: 'GAD7', answers: [1, 2, 1, 0, 1, 2, 1] });
    await me.api.support.create.mutate({ subject: 'Billing', body: 'Was I charged twice?' });

    const { result, queries } = await serverQueries(async () => {
      const res = await download(server, '/export', me.token);
      return { res, text: await res.text() };
    });
    expect(result.res.status).toBe(200);
    expect(result.res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(result.res.headers.get('content-disposition')).toMatch(/^attachment; filename="manas360-export-/);
    // 1 (audit + profile + subscription) + 9 sections of fewer than 500 rows.
    expect(queries).toBe(10);
    const doc = JSON.parse(result.text);
    expect(doc).toMatchObject({
      format: 'manas360.export',
      version: 1,
      profile: { id: me.id, email: me.email, role: 'patient' },
      subscription: { plan: 'basic', status: 'active' },
      moodEntries: [{ score: 6, note: 'slept well', tags: ['sleep'] }],
      assessments: [{ instrument: 'GAD7', answers: [1, 2, 1, 0, 1, 2, 1], score: 8 }],
      sessions: [],
      sessionNotes: [],
      crisisAlerts: [],
      supportTickets: [{ subject: 'Billing', priority: 'standard', status: 'open' }],
      supportMessages: [{ body: 'Was I charged twice?', fromStaff: false }],
      apiKeys: [],
    });
    const actions = doc.auditEntries.map((e: { action: string }) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['auth.register', 'auth.login', 'admin.users.setPlan', 'export.mine']),
    );
    // A staff member's action on the account does not disclose who they are.
    expect(
      doc.auditEntries.find((e: { action: string }) => e.action === 'admin.users.setPlan'),
    ).toMatchObject({
      by: 'staff',
      ip: null,
    });
    expect(await auditCount(me.id, 'export.mine')).toBe(1);

    const again = await download(server, '/export', me.token);
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect(await auditCount(me.id, 'export.mine')).toBe(1);
  });

  it('reads long histories page by page: 1,200 mood entries take 3 statements', async () => {
    const me = await account(server, 'premium');
    await server.deps.db.execute(
      sql`INSERT INTO mood_entries (user_id, score, created_at)
          SELECT ${me.id}, 1 + g % 10, now() - make_interval(mins => g) FROM generate_series(1, 1200) g`,
    );
    const { result, queries } = await serverQueries(async () =>
      (await download(server, '/export', me.token)).text(),
    );
    expect(queries).toBe(12); // 10 + the two extra mood pages (500 + 500 + 200)
    const entries = JSON.parse(result).moodEntries as Array<{ id: string; createdAt: string }>;
    expect(entries).toHaveLength(1200);
    expect(new Set(entries.map((e) => e.id)).size).toBe(1200);
    const times = entries.map((e) => e.createdAt);
    expect([...times].sort()).toEqual(times); // oldest first, no page overlap
  });

  it('session notes: the therapist exports the text they wrote; the patient sees the note withheld', async () => {
    const therapist = await account(server, 'basic', 'therapist');
    const patient = await account(server, 'basic');
    const session = await patient.api.therapy.book.mutate({
      therapistId: therapist.id,
      startsAt: nextWholeHour(3),
    });
    await therapist.api.therapy.addNote.mutate({ sessionId: session.id, note: 'Discussed sleep hygiene.' });

    const ofPatient = JSON.parse(await (await download(server, '/export', patient.token)).text());
    expect(ofPatient.sessions).toMatchObject([{ id: session.id, as: 'patient', therapistId: therapist.id }]);
    expect(ofPatient.sessionNotes).toHaveLength(1);
    expect(ofPatient.sessionNotes[0]).toMatchObject({ sessionId: session.id, text: null });
    expect(JSON.stringify(ofPatient)).not.toContain('sleep hygiene');

    const ofTherapist = JSON.parse(await (await download(server, '/export', therapist.token)).text());
    expect(ofTherapist.sessions).toMatchObject([{ id: session.id, as: 'therapist' }]);
    expect(ofTherapist.sessionNotes).toMatchObject([
      { sessionId: session.id, text: 'Discussed sleep hygiene.' },
    ]);
    // The therapist's export disclosed the patient's therapy record: the patient's access
    // log says so (one entry per patient, whatever the number of sessions and notes).
    const log = await patient.api.privacy.accessLog.query({});
    expect(log.items).toMatchObject([
      { data: 'therapy_record', via: 'export.mine', by: { role: 'therapist' } },
    ]);
    expect(log.items).toHaveLength(1);
    // The patient's own export is no access by someone else: the therapist's log is empty.
    expect((await therapist.api.privacy.accessLog.query({})).items).toEqual([]);
  });

  it("a therapist's export writes one access entry per patient in its records, none for the therapist", async () => {
    const therapist = await account(server, 'basic', 'therapist');
    const patients = [await account(server, 'basic'), await account(server, 'basic')];
    for (const [i, p] of patients.entries())
      for (const hours of [3, 5]) {
        const s = await p.api.therapy.book.mutate({
          therapistId: therapist.id,
          startsAt: nextWholeHour(hours + i * 10),
        });
        await therapist.api.therapy.addNote.mutate({ sessionId: s.id, note: `Note ${i}-${hours}` });
      }
    await (await download(server, '/export', therapist.token)).text();
    const entries = await queryRows(
      server.deps.db,
      z.object({ target_id: z.string(), request_id: z.string().nullable(), details: z.unknown() }),
      sql`SELECT target_id, request_id, details FROM audit_log
          WHERE actor_id = ${therapist.id} AND action = 'export.mine' AND target_id <> ${therapist.id}`,
    );
    expect(entries.map((e) => e.target_id).sort()).toEqual(patients.map((p) => p.id).sort());
    for (const e of entries) {
      expect(e.request_id).toBeTruthy();
      expect(e.details).toMatchObject({ sessions: 2, notes: 2 });
    }
  });

  it('streams the same document to httpBatchStreamLink; a plain httpBatchLink call is refused untouched', async () => {
    const me: Account = await account(server, 'enterprise');
    const plain = await me.api.export.mine.query().then(
      () => null,
      (e: unknown) => e,
    );
    expect(plain).toBeInstanceOf(TRPCClientError);
    expect(await auditCount(me.id, 'export.mine')).toBe(0);

    const streaming = createTRPCClient<AppRouter>({
      links: [
        httpBatchStreamLink({
          url: `${server.url}/trpc`,
          transformer: superjson,
          headers: () => bearer(me.token),
        }),
      ],
    });
    let text = '';
    for await (const chunk of await streaming.export.mine.query()) text += chunk;
    expect(JSON.parse(text).profile.id).toBe(me.id);
    expect(await auditCount(me.id, 'export.mine')).toBe(1);
  });
});
