// REST and its OpenAPI document (server/http/rest.ts) against a real server: the document
// is valid OpenAPI 3.1, the user-facing endpoints are called through openapi-fetch with the
// types openapi-typescript generates from it (test/fixtures/openapi.d.ts, which must match
// the current document), and a REST call keeps the tRPC path's policy, error reasons,
// readable 400s and query counts. /docs serves Swagger UI from node_modules under the CSP.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import createClient, { type Middleware } from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_TYPES_FILE, openApiTypes } from '../scripts/openapi-types.ts';
import { CONSOLE_CSP } from '../server/http/admin-console.ts';
import { ADMIN_ENV, account, PASSWORD, serverQueries } from './accounts.ts';
import type { paths } from './fixtures/openapi.d.ts';
import { NOTICE } from './helpers.ts';
import { startTestServer, type TestServer } from './server.ts';
import { confirmRegistrationSql } from './support/register.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('REST (/api) and its OpenAPI document', () => {
  let server: TestServer;
  let document: { paths: Record<string, Record<string, unknown>> };
  /** "METHOD /path" of every request the generated client made. */
  const called = new Set<string>();
  const record: Middleware = {
    onRequest({ request, schemaPath }) {
      called.add(`${request.method} ${schemaPath}`);
    },
  };
  const client = (token?: string) => {
    const c = createClient<paths>({
      baseUrl: `${server.url}/api`,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    c.use(record);
    return c;
  };

  beforeAll(async () => {
    server = await startTestServer({ env: ADMIN_ENV });
    document = await (await fetch(`${server.url}/openapi.json`)).json();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves a valid OpenAPI 3.1 document whose generated types are the committed ones', async () => {
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document).toMatchObject({ openapi: '3.1.0', servers: [{ url: '/api' }] });
    // `npm run docs:openapi` regenerates the file when this fails.
    expect(await openApiTypes()).toBe(readFileSync(OPENAPI_TYPES_FILE, 'utf8'));
  });

  it('answers the patient and clinician endpoints through the openapi-fetch client, with ISO dates', async () => {
    const anon = client();
    const plans = await anon.GET('/subscriptions/plans');
    expect(plans.data?.map((p) => p.code)).toEqual(['free', 'basic', 'premium', 'enterprise']);
    const notice = await anon.GET('/privacy/notice');
    expect(notice.data).toEqual({ version: NOTICE });

    const email = `rest-${Date.now().toString(36)}@example.com`;
    const reg = await anon.POST('/auth/register', {
      body: { email, password: PASSWORD, name: 'Rest Patient', acceptPrivacyNotice: NOTICE },
    });
    expect(reg.response.status).toBe(200);
    expect(reg.data).toEqual({ email, confirmationSent: true });
    // Confirmed as its emailed link would (test/account-email.test.ts follows the link).
    await server.deps.db.execute(confirmRegistrationSql(email));
    const login = await anon.POST('/auth/login', { body: { email, password: PASSWORD } });
    expect(login.data?.user.email).toBe(email);
    const refreshed = await anon.POST('/auth/refresh', {
      body: { refreshToken: login.data?.refreshToken ?? '' },
    });
    expect(refreshed.data?.accessToken).toEqual(expect.any(String));
    let patient = client(refreshed.data?.accessToken);

    const me = await patient.GET('/auth/me');
    expect(me.data?.email).toBe(email);
    expect(me.data?.expiresAt).toMatch(ISO);
    const accepted = await patient.POST('/privacy/acceptNotice', { body: { version: NOTICE } });
    expect(accepted.data?.acceptedAt).toMatch(ISO);
    patient = client(accepted.data?.accessToken);

    const profile = await patient.GET('/users/profile');
    expect(profile.data?.createdAt).toMatch(ISO);
    const updated = await patient.POST('/users/updateProfile', { body: { name: 'Rest Patient 2' } });
    expect(updated.data?.name).toBe('Rest Patient 2');

    const mood = await patient.POST('/mood/log', { body: { score: 7, tags: ['calm'] } });
    expect(mood.data).toMatchObject({ score: 7, tags: ['calm'] });
    const moods = await patient.GET('/mood/list', {
      params: { query: { from: new Date(Date.now() - 60_000).toISOString(), limit: 5 } },
    });
    expect(moods.data?.items.map((m) => m.id)).toEqual([mood.data?.id]);
    expect(moods.data?.items[0]?.createdAt).toMatch(ISO);

    const submitted = await patient.POST('/assessments/submit', {
      body: { instrument: 'GAD7', answers: [1, 1, 1, 1, 1, 1, 1] },
    });
    expect(submitted.data).toMatchObject({ instrument: 'GAD7', score: 7, severity: 'mild', crisis: false });
    const history = await patient.GET('/assessments/history', { params: { query: { instrument: 'GAD7' } } });
    expect(history.data?.items).toHaveLength(1);

    // Booking needs a paid plan and a therapist (set up over tRPC: admin.* is not on REST).
    const therapist = await account(server, 'free', 'therapist');
    const paid = await account(server, 'basic');
    const paidRest = client(paid.token);
    const therapists = await paidRest.GET('/therapists/list', { params: { query: { limit: 50 } } });
    expect(therapists.data?.items.map((t) => t.id)).toContain(therapist.id);
    const startsAt = new Date(Math.ceil((Date.now() + 86_400_000) / 3_600_000) * 3_600_000).toISOString();
    const booked = await paidRest.POST('/therapy/book', { body: { therapistId: therapist.id, startsAt } });
    expect(booked.data).toMatchObject({ therapistId: therapist.id, startsAt, status: 'booked' });
    const sessionId = booked.data?.id ?? '';
    const mine = await paidRest.GET('/therapy/mine', { params: { query: { upcoming: true } } });
    expect(mine.data?.items.map((s) => s.id)).toEqual([sessionId]);

    const clinician = client(therapist.token);
    const note = await clinician.POST('/therapy/addNote', {
      body: { sessionId, note: 'first session planned' },
    });
    expect(note.data?.createdAt).toMatch(ISO);
    const notes = await clinician.GET('/therapy/notes', { params: { query: { sessionId } } });
    expect(notes.data?.notes.map((n) => n.note)).toEqual(['first session planned']);
    const cancelled = await paidRest.POST('/therapy/cancel', { body: { sessionId } });
    expect(cancelled.data?.status).toBe('cancelled');
    // A query-string boolean means what it says ("false" is not a truthy string).
    const live = await clinician.GET('/therapy/schedule', { params: { query: { includeCancelled: false } } });
    expect(live.data?.items).toEqual([]);
    const everything = await clinician.GET('/therapy/schedule', {
      params: { query: { includeCancelled: true } },
    });
    expect(everything.data?.items.map((s) => [s.id, s.status])).toEqual([[sessionId, 'cancelled']]);

    // A well-formed API key that does not exist: 401, as auth.exchangeApiKey answers.
    const exchange = await anon.POST('/auth/exchangeApiKey', {
      body: { apiKey: `m360_abcdefgh_${'x'.repeat(43)}` },
    });
    expect(exchange.response.status).toBe(401);

    // Account emails (their links are followed in test/account-email.test.ts, with a mail server).
    const resetAsked = await anon.POST('/auth/requestPasswordReset', { body: { email } });
    expect(resetAsked.data).toEqual({ ok: true });
    const badReset = await anon.POST('/auth/resetPassword', {
      body: { token: 'x'.repeat(43), newPassword: 'a new password here' },
    });
    expect(badReset.response.status).toBe(400);
    expect((await anon.POST('/auth/verifyEmail', { body: { token: 'y'.repeat(43) } })).response.status).toBe(
      400,
    );
    expect((await patient.POST('/auth/requestEmailVerification')).data).toEqual({ ok: true });
    const resent = await anon.POST('/auth/resendConfirmation', { body: { email } });
    expect(resent.data).toEqual({ ok: true });
    const moving = await patient.POST('/users/changeEmail', {
      body: { password: PASSWORD, newEmail: `moved-${email}` },
    });
    expect(moving.data).toEqual({ ok: true });

    const changed = await patient.POST('/auth/changePassword', {
      body: { currentPassword: PASSWORD, newPassword: `${PASSWORD} 2` },
    });
    expect(changed.data?.user.email).toBe(email);
    const second = await anon.POST('/auth/login', { body: { email, password: `${PASSWORD} 2` } });
    const out = await anon.POST('/auth/logout', { body: { refreshToken: second.data?.refreshToken ?? '' } });
    expect(out.data).toEqual({ ok: true });
    const outAll = await client(changed.data?.accessToken).POST('/auth/logoutAll');
    expect(outAll.data).toEqual({ ok: true });
    expect((await client(changed.data?.accessToken).GET('/auth/me')).response.status).toBe(401);

    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // Every path called is in the document (every procedure has a route: test/rest-routes.test.ts;
    // the rest of the journey runs through a generated axios client: test/rest-generated-client.test.ts).
    expect(documented).toEqual(expect.arrayContaining([...called]));
    expect(called.size).toBeGreaterThan(25);
  });

  it('refuses as /trpc does: 401, 403 missing_feature with the upgrade data, 400 naming the field', async () => {
    const anon = client();
    const unauthorized = await anon.GET('/auth/me');
    expect(unauthorized.response.status).toBe(401);
    expect(unauthorized.error).toMatchObject({ code: 'UNAUTHORIZED' });

    const free = await account(server, 'free');
    const rest = client(free.token);
    const forbidden = await rest.POST('/therapy/book', {
      body: { therapistId: '00000000-0000-4000-8000-000000000000', startsAt: new Date().toISOString() },
    });
    expect(forbidden.response.status).toBe(403);
    expect(forbidden.error).toMatchObject({
      code: 'FORBIDDEN',
      data: { reason: 'missing_feature', required: 'therapist_booking' },
    });

    const bad = await rest.POST('/mood/log', { body: { score: 11 } });
    expect(bad.response.status).toBe(400);
    expect(bad.error).toMatchObject({ code: 'BAD_REQUEST', message: 'score: must be at most 10' });
    expect(JSON.stringify(bad.error)).not.toMatch(/SELECT|INSERT|at .*\.ts/);
    // A string is not a number in a JSON body (only query strings are converted).
    const text = await rest.POST('/mood/log', { body: { score: '5' as unknown as number } });
    expect(text.response.status).toBe(400);
    const date = await rest.GET('/mood/list', { params: { query: { from: 'next tuesday' } } });
    expect(date.response.status).toBe(400);
    expect(date.error?.message).toMatch(/^from: /);
    // REST's conversions live in the REST layer, not in the shared schemas: after the REST
    // calls above, /trpc still refuses a string where the schema wants a number.
    const viaTrpc = await free.api.mood.list.query({ limit: '5' as unknown as number }).then(
      () => 'accepted',
      (err: { data?: { code?: string } }) => err.data?.code,
    );
    expect(viaTrpc).toBe('BAD_REQUEST');
  });

  it('makes the same SQL statements as the tRPC call', async () => {
    const user = await account(server, 'free');
    const rest = client(user.token);
    const viaTrpc = await serverQueries(() => user.api.mood.log.mutate({ score: 4 }));
    const viaRest = await serverQueries(() => rest.POST('/mood/log', { body: { score: 4 } }));
    expect(viaRest.result.response.status).toBe(200);
    expect(viaRest.queries).toBe(viaTrpc.queries);
    const meTrpc = await serverQueries(() => user.api.auth.me.query());
    const meRest = await serverQueries(() => rest.GET('/auth/me'));
    expect(meRest.queries).toBe(meTrpc.queries);
    expect(meRest.queries).toBe(0);
  });

  it('serves Swagger UI at /docs from node_modules under the strict CSP, with no inline script', async () => {
    const page = await fetch(`${server.url}/docs/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    const html = await page.text();
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => m[1])).toEqual([' src="/docs/swagger-ui-bundle.js"', ' src="/docs/init.js"']);
    expect(scripts.every((m) => m[2] === '')).toBe(true);
    expect(html).not.toMatch(/<style|style="/);
    for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/init.js']) {
      const res = await fetch(`${server.url}${asset}`);
      expect(res.status, asset).toBe(200);
      // Read to the end: an unread 1.5 MB bundle keeps its response in flight (backpressure),
      // and the server's close() then waits for it.
      await res.arrayBuffer();
    }
    expect(await (await fetch(`${server.url}/docs/init.js`)).text()).toContain("url: '/openapi.json'");
    // Only the renderer's files: nothing else of the package directory.
    const missing = await fetch(`${server.url}/docs/package.json`);
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();
  });
});
