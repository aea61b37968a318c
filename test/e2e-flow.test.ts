// End to end through the real @trpc/client over HTTP (httpBatchLink + superjson), on both
// tRPC request paths (TRPC_PATH lean and official): the auth flow, the errors a client acts
// on, batching, and the domain procedures.
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onQuery } from '../db/client.ts';
import type { AppRouter } from '../shared/index.ts';
import { NOTICE } from './helpers.ts';
import { bearer, loginAccepted, registerUser, signIn, startTestServer, type TestServer } from './server.ts';
import { confirmRegistrationSql } from './support/register.ts';

const ADMIN = { email: 'root@example.com', password: 'a superadmin password' };
const PASSWORD = 'a long enough password';

/** The error a call rejected with, as a typed client error. */
async function failure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  return err as TRPCClientError<AppRouter>;
}

const nextWholeHour = (hoursAhead = 1) =>
  new Date((Math.floor(Date.now() / 3_600_000) + hoursAhead) * 3_600_000);

describe.each(['lean', 'official'] as const)('end to end over HTTP (%s path)', (trpcPath) => {
  let server: TestServer;
  let n = 0;
  beforeAll(async () => {
    server = await startTestServer({
      env: { TRPC_PATH: trpcPath, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function newPatient() {
    n += 1;
    const email = `e2e${n}@example.com`;
    const res = await registerUser(server, {
      email,
      password: PASSWORD,
      name: `Patient ${n}`,
      acceptPrivacyNotice: NOTICE,
    });
    return { ...res, email, api: server.client(res.accessToken) };
  }
  async function adminApi() {
    return server.client(await loginAccepted(server, ADMIN));
  }

  it('register → confirm → login → me → refresh → logout', async () => {
    const anon = server.client();
    const answer = await anon.auth.register.mutate({
      email: 'Flow@Example.com ',
      password: PASSWORD,
      name: 'Flow',
      acceptPrivacyNotice: NOTICE,
    });
    // No session until the address is confirmed (the emailed link: test/account-email.test.ts).
    expect(answer).toEqual({ email: 'flow@example.com', confirmationSent: true });
    const early = await failure(anon.auth.login.mutate({ email: 'flow@example.com', password: PASSWORD }));
    expect(early.data).toMatchObject({ code: 'UNAUTHORIZED' });
    await server.deps.db.execute(confirmRegistrationSql('flow@example.com'));
    const reg = await anon.auth.login.mutate({ email: 'flow@example.com', password: PASSWORD });
    expect(reg.user).toMatchObject({ email: 'flow@example.com', role: 'patient', plan: 'free' });
    expect(reg.expiresIn).toBe(server.deps.config.ACCESS_TOKEN_TTL_SECONDS);

    const login = await anon.auth.login.mutate({ email: 'flow@example.com', password: PASSWORD });
    expect(login.user.id).toBe(reg.user.id);
    expect(login.refreshToken).not.toBe(reg.refreshToken);

    // auth.me answers from the token alone: zero SQL statements in the whole request.
    let queries = 0;
    const stop = onQuery((scope) => {
      // Not a timer's resync or poll (inBackground): the statements requests make.
      if (!scope?.background) queries += 1;
    });
    const me = await server.client(login.accessToken).auth.me.query();
    stop();
    expect(queries).toBe(0);
    expect(me).toMatchObject({
      id: reg.user.id,
      email: 'flow@example.com',
      role: 'patient',
      privilegeLevel: 10,
      plan: 'free',
    });
    expect(me.permissions).toContain('mood.write');
    expect(me.features).toEqual(expect.arrayContaining(['mood_tracking', 'assessments']));
    expect(me.expiresAt).toBeInstanceOf(Date); // superjson carried the Date
    expect(me.expiresAt.getTime()).toBeGreaterThan(Date.now());

    const renewed = await anon.auth.refresh.mutate({ refreshToken: login.refreshToken });
    expect((await server.client(renewed.accessToken).auth.me.query()).sessionId).toBe(me.sessionId);

    expect(await anon.auth.logout.mutate({ refreshToken: renewed.refreshToken })).toEqual({ ok: true });
    const after = await failure(server.client(renewed.accessToken).auth.me.query());
    expect(after.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
    expect(after.message).not.toMatch(/\bat \S+:\d+/); // no stack
    // The first session is untouched by that logout.
    expect((await server.client(reg.accessToken).auth.me.query()).id).toBe(reg.user.id);
  });

  it('FORBIDDEN carries data.reason and data.required to the client', async () => {
    const p = await newPatient();
    const noPermission = await failure(p.api.admin.users.list.query({}));
    expect(noPermission.data).toMatchObject({
      code: 'FORBIDDEN',
      httpStatus: 403,
      reason: 'missing_permission',
      required: 'users.read',
    });
    const noFeature = await failure(
      p.api.therapy.book.mutate({ therapistId: p.user.id, startsAt: nextWholeHour(2) }),
    );
    expect(noFeature.data).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'missing_feature',
      required: 'therapist_booking',
    });
    expect(noFeature.message).toBe('Your plan does not include this feature');

    // An admin acting on the superadmin: insufficient_privilege.
    const root = await adminApi();
    await root.admin.users.setRole.mutate({ userId: p.user.id, role: 'admin' });
    const asAdmin = server.client(
      // Now staff: signed in with a second factor (a passkey enrolled on the way).
      (await signIn(server, { email: p.email, password: PASSWORD })).accessToken,
    );
    const rootId = (await root.auth.me.query()).id;
    const tooLow = await failure(asAdmin.admin.users.suspend.mutate({ userId: rootId, reason: 'coup' }));
    expect(tooLow.data).toMatchObject({ code: 'FORBIDDEN', reason: 'insufficient_privilege' });
  });

  it('BAD_REQUEST names the field in a short message and carries the flattened zodError', async () => {
    const p = await newPatient();
    const bad = await failure(p.api.mood.log.mutate({ score: 11, tags: ['ok'] }));
    expect(bad.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect(bad.message).toBe('score: must be at most 10');
    expect(bad.data?.zodError?.fieldErrors.score?.[0]).toMatch(/10/);
    expect(bad.data?.zodError?.formErrors).toEqual([]);
    // Unknown keys are refused, not ignored (the client's types forbid them too).
    const extra = await failure(
      p.api.mood.log.mutate({ score: 5, userId: p.user.id } as unknown as { score: number }),
    );
    expect(extra.data?.zodError?.formErrors.join(' ')).toMatch(/unrecognized/i);
    expect(extra.message).toBe('input: unknown field userId');
    const several = await failure(p.api.mood.log.mutate({ score: 0, note: '' }));
    expect(several.message).toBe('score: must be at least 1 (and 1 more)');
    const missing = await failure(p.api.mood.log.mutate({} as unknown as { score: number }));
    expect(missing.message).toBe('score: is required');
    // A value of the wrong type is not a missing one (zod 4 leaves issue.input out).
    const wrongType = await failure(p.api.mood.log.mutate({ score: '7' } as unknown as { score: number }));
    expect(wrongType.message).toBe('score: expected a number');
    const nested = await failure(
      p.api.mood.log.mutate({ score: 5, tags: [3] } as unknown as { score: number }),
    );
    expect(nested.message).toBe('tags.0: expected a string');
  });

  it('a batch mixing success and error: one HTTP request, each call its own outcome', async () => {
    const p = await newPatient();
    let requests = 0;
    const api = createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: `${server.url}/trpc`,
          transformer: superjson,
          headers: () => bearer(p.accessToken),
          fetch: (url, init) => {
            requests += 1;
            return fetch(url, init);
          },
        }),
      ],
    });
    const results = await Promise.allSettled([
      api.auth.me.query(),
      api.admin.users.list.query({}),
      api.subscriptions.plans.query(),
      api.mood.list.query({ limit: 500 }),
    ]);
    expect(requests).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    const [me, forbidden, plans, invalid] = results;
    expect((me as PromiseFulfilledResult<{ id: string }>).value.id).toBe(p.user.id);
    expect(((forbidden as PromiseRejectedResult).reason as TRPCClientError<AppRouter>).data?.code).toBe(
      'FORBIDDEN',
    );
    expect((plans as PromiseFulfilledResult<Array<{ code: string }>>).value.map((x) => x.code)).toEqual([
      'free',
      'basic',
      'premium',
      'enterprise',
    ]);
    expect(((invalid as PromiseRejectedResult).reason as TRPCClientError<AppRouter>).data?.code).toBe(
      'BAD_REQUEST',
    );
    // Mutations batch too.
    const writes = await Promise.all([
      p.api.mood.log.mutate({ score: 3 }),
      p.api.mood.log.mutate({ score: 4 }),
    ]);
    expect(writes.map((w) => w.score)).toEqual([3, 4]);
  });

  it('domain: mood.log/list, assessments.submit (crisis), therapy.book with a taken slot', async () => {
    const p = await newPatient();
    const entry = await p.api.mood.log.mutate({ score: 7, note: 'a calm day', tags: ['sleep', 'work'] });
    expect(entry).toMatchObject({ score: 7, tags: ['sleep', 'work'] });
    expect(entry.createdAt).toBeInstanceOf(Date);
    await p.api.mood.log.mutate({ score: 4 });
    const page = await p.api.mood.list.query({ limit: 1 });
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).toBeTruthy();
    const rest = await p.api.mood.list.query({ limit: 10, cursor: page.nextCursor! });
    expect([...page.items, ...rest.items].map((e) => e.score).sort()).toEqual([4, 7]);
    expect(rest.nextCursor).toBeNull();

    const phq = await p.api.assessments.submit.mutate({
      instrument: 'PHQ9',
      answers: [2, 2, 2, 2, 2, 2, 2, 1, 1],
    });
    expect(phq).toMatchObject({ score: 16, severity: 'moderately severe', crisis: true });
    const gad = await p.api.assessments.submit.mutate({ instrument: 'GAD7', answers: [0, 0, 1, 0, 0, 1, 0] });
    expect(gad).toMatchObject({ score: 2, severity: 'minimal', crisis: false });

    // Booking: a therapist (made by the superadmin) and a patient on Basic.
    const root = await adminApi();
    const t = await newPatient();
    await root.admin.users.setRole.mutate({ userId: t.user.id, role: 'therapist' });
    await root.admin.users.setPlan.mutate({ userId: p.user.id, planCode: 'basic' });
    const paid = server.client(
      (await server.client().auth.refresh.mutate({ refreshToken: p.refreshToken })).accessToken,
    );
    const startsAt = nextWholeHour(3);
    const session = await paid.therapy.book.mutate({ therapistId: t.user.id, startsAt });
    expect(session.startsAt).toEqual(startsAt);
    const other = await newPatient();
    await root.admin.users.setPlan.mutate({ userId: other.user.id, planCode: 'premium' });
    const otherPaid = server.client(
      (await server.client().auth.refresh.mutate({ refreshToken: other.refreshToken })).accessToken,
    );
    const taken = await failure(otherPaid.therapy.book.mutate({ therapistId: t.user.id, startsAt }));
    expect(taken.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409 });
  });
});
