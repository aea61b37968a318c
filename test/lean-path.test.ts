// The lean tRPC request path answers exactly as tRPC's official Fastify adapter: the same
// calls, through the real @trpc/client (httpLink, httpBatchLink, httpBatchStreamLink) and
// raw HTTP, give the same data, error shapes, statuses and headers on both paths.
import type { AddressInfo } from 'node:net';
import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  TRPCClientError,
  type TRPCLink,
} from '@trpc/client';
import Fastify from 'fastify';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_PRIVACY_NOTICE_VERSION } from '../server/config.ts';
import { tooManyRequests } from '../server/domain/errors.ts';
import { leanOptions, mountTrpc, officialOptions } from '../server/http/trpc.ts';
import { appRouter } from '../server/routers/index.ts';
import { mergeRouters, protectedProcedure, publicProcedure, router } from '../server/trpc/init.ts';
import { createTestDeps } from './helpers.ts';
import { type RawRequest, sendRaw } from './server.ts';

/** How many times probe.add ran (a refused request must run nothing). */
let additions = 0;
// The app's router plus a few procedures that exercise what the app has no example of yet.
const probeRouter = router({
  probe: router({
    echo: publicProcedure
      .input(z.strictObject({ n: z.number().int(), at: z.date() }))
      .query(({ input }) => ({ n: input.n, at: input.at, twice: input.n * 2 })),
    add: publicProcedure.input(z.strictObject({ a: z.number(), b: z.number() })).mutation(({ input }) => {
      additions += 1;
      return { sum: input.a + input.b };
    }),
    say: publicProcedure.input(z.strictObject({ s: z.string() })).query(({ input }) => input.s),
    boom: publicProcedure.query(() => {
      throw new Error('select secret from patients where id = 1');
    }),
    limited: publicProcedure.query(({ ctx }) => {
      ctx.resHeaders.set('Retry-After', '7');
      throw tooManyRequests(7);
    }),
    gated: protectedProcedure.meta({ auth: 'user', permission: 'users.read' }).query(() => 'secret list'),
    paid: protectedProcedure.meta({ auth: 'user', feature: 'therapist_booking' }).query(() => 'booked'),
  }),
});
const testRouter = mergeRouters(appRouter, probeRouter);
type TestRouter = typeof testRouter;

const PATHS = ['lean', 'official'] as const;
type PathKind = (typeof PATHS)[number];

let deps: Awaited<ReturnType<typeof createTestDeps>>;
const servers = new Map<PathKind, { url: string; close(): Promise<void> }>();
let userToken: string;

beforeAll(async () => {
  deps = await createTestDeps('pglite', { MAX_BATCH_SIZE: '10' });
  for (const kind of PATHS) {
    const app = Fastify();
    await mountTrpc<TestRouter>(app, kind, officialOptions(deps, testRouter), leanOptions(deps, testRouter));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    servers.set(kind, { url: `http://127.0.0.1:${port}`, close: () => app.close() });
  }
  const signed = await deps.tokens.sign(
    {
      id: '00000000-0000-4000-8000-000000000001',
      email: 'p@example.com',
      role: 'patient',
      privilegeLevel: 10,
      permissions: ['mood.write'],
      features: ['mood_tracking'],
      plan: 'free',
      privacyNotice: DEFAULT_PRIVACY_NOTICE_VERSION,
    },
    '00000000-0000-4000-8000-0000000000aa',
  );
  userToken = signed.token;
});
afterAll(async () => {
  for (const s of servers.values()) await s.close();
  await deps?.dispose();
});

type LinkKind = 'httpLink' | 'httpBatchLink' | 'httpBatchStreamLink';
function client(kind: PathKind, link: LinkKind, token?: string) {
  const opts = {
    url: `${servers.get(kind)!.url}/trpc`,
    transformer: superjson,
    headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
  };
  const links: TRPCLink<TestRouter>[] = [
    link === 'httpLink'
      ? httpLink(opts)
      : link === 'httpBatchLink'
        ? httpBatchLink(opts)
        : httpBatchStreamLink(opts),
  ];
  return createTRPCClient<TestRouter>({ links });
}

/** What a client sees of one call: the data, or the error's message and data. */
async function outcome(p: Promise<unknown>) {
  try {
    return { ok: true, data: await p };
  } catch (err) {
    if (!(err instanceof TRPCClientError)) throw err;
    return { ok: false, message: err.message, data: err.data, shape: err.shape };
  }
}

/** A representative set of calls, issued together so batching links batch them. */
async function scenario(kind: PathKind, link: LinkKind) {
  const anon = client(kind, link);
  const user = client(kind, link, userToken);
  const bad = client(kind, link, 'not.a.jwt');
  // biome-ignore lint/suspicious/noExplicitAny: calling a path the router does not have
  const untyped = anon as any;
  const at = new Date('2026-02-01T10:00:00.000Z');
  return Promise.all([
    outcome(anon.probe.echo.query({ n: 21, at })),
    outcome(anon.probe.add.mutate({ a: 2, b: 3 })),
    outcome(anon.subscriptions.plans.query()),
    outcome(anon.auth.me.query()),
    outcome(user.auth.me.query()),
    outcome(bad.auth.me.query()),
    outcome(user.probe.gated.query()),
    outcome(user.probe.paid.query()),
    // biome-ignore lint/suspicious/noExplicitAny: invalid input on purpose
    outcome(anon.probe.echo.query({ n: 'x' } as any)),
    outcome(anon.probe.boom.query()),
    outcome(anon.probe.limited.query()),
    outcome(untyped.probe.missing.query()),
  ]);
}

describe.each(['httpLink', 'httpBatchLink', 'httpBatchStreamLink'] as const)('through %s', (link) => {
  it('gives the same data and errors on the lean and the official path', async () => {
    const lean = await scenario('lean', link);
    const official = await scenario('official', link);
    expect(lean).toEqual(official);
    // And the answers are the right ones, not merely equal.
    const [echo, add, plans, anonMe, me, badMe, gated, paid, badInput, boom, limited, missing] = lean;
    expect(echo).toEqual({ ok: true, data: { n: 21, at: new Date('2026-02-01T10:00:00.000Z'), twice: 42 } });
    expect(add).toEqual({ ok: true, data: { sum: 5 } });
    expect((plans!.data as unknown[]).length).toBe(4);
    expect(anonMe!.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
    expect(me!.data).toMatchObject({ email: 'p@example.com', expiresAt: expect.any(Date) });
    expect(badMe).toMatchObject({ ok: false, message: 'Invalid or expired access token' });
    expect(gated!.data).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403, reason: 'missing_permission' });
    expect(paid!.data).toMatchObject({ reason: 'missing_feature', required: 'therapist_booking' });
    expect(badInput!.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect((badInput!.data as { zodError: unknown }).zodError).toBeTruthy();
    expect(boom).toMatchObject({ ok: false, message: 'Internal server error' });
    expect(JSON.stringify(boom)).not.toMatch(/select|stack/);
    expect(limited!.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', retryAfterSeconds: 7 });
    expect(missing!.data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });
  });
});

/** Raw HTTP on both paths (the path sent as is): status, body and the headers a client acts on. */
async function raw(kind: PathKind, path: string, init: Partial<RawRequest> = {}) {
  const res = await sendRaw(servers.get(kind)!.url, { method: 'GET', ...init, path: `/trpc/${path}` });
  const header = (name: string) => (res.headers[name] as string | undefined) ?? null;
  return {
    status: res.status,
    body: res.body === '' ? null : JSON.parse(res.body),
    contentType: header('content-type'),
    allow: header('allow'),
    retryAfter: header('retry-after'),
    vary: header('vary'),
  };
}
const enc = (v: unknown) => encodeURIComponent(JSON.stringify(v));
const json = (body: string): Partial<RawRequest> => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body,
});
/** A probe.say query whose input string is `~`, with `~` replaced in the encoded URL by `raw`. */
const say = (raw: string) => `probe.say?input=${enc({ json: { s: '~' } }).replace('~', raw)}`;

const RAW_CASES: Array<[string, string, Partial<RawRequest> | undefined, number]> = [
  ['a query', `probe.echo?input=${enc(superjson.serialize({ n: 1, at: new Date(0) }))}`, undefined, 200],
  ['a mutation', 'probe.add', json(JSON.stringify(superjson.serialize({ a: 1, b: 2 }))), 200],
  ['an unknown procedure', 'nope.nothing', undefined, 404],
  ['a GET to a mutation', 'probe.add', undefined, 405],
  ['a POST to a query', 'probe.echo', json('{}'), 405],
  [
    'a batch of successes',
    `subscriptions.plans,probe.echo?batch=1&input=${enc({ 1: { json: { n: 2, at: 0 }, meta: { values: { at: ['Date'] } } } })}`,
    undefined,
    200,
  ],
  ['a batch with success and error', `subscriptions.plans,auth.me?batch=1&input=${enc({})}`, undefined, 207],
  ['a batch of one error kind', `auth.me,probe.gated?batch=1&input=${enc({})}`, undefined, 401],
  [
    'a batch over maxBatchSize',
    `${Array(11).fill('auth.me').join(',')}?batch=1&input=${enc({})}`,
    undefined,
    400,
  ],
  ['a batch mixing queries and mutations', `probe.echo,probe.add?batch=1&input=${enc({})}`, undefined, 400],
  ['a batch input that is not an object', `probe.echo?batch=1&input=5`, undefined, 400],
  [
    'a batch input that is an array (query)',
    `probe.say?batch=1&input=${enc([{ json: { s: 'x' } }])}`,
    undefined,
    400,
  ],
  ['a batch input that is an array (mutation)', 'probe.add?batch=1', json('[{"json":{"a":1,"b":2}}]'), 400],
  ['a fragment after the input', `probe.say?input=${enc({ json: { s: 'x' } })}#frag`, undefined, 200],
  ['a fragment after batch=1', `subscriptions.plans,probe.say?batch=1&input=${enc({})}#x`, undefined, 207],
  ['a lone % in the input', say('100%'), undefined, 200],
  ['an invalid UTF-8 escape in the input', say('%C3%28'), undefined, 200],
  ['a plus sign in the input', say('a+b'), undefined, 200],
  ['a doubly encoded bad path', '%25E0%25A4%25A?input=1', undefined, 400],
  ['input that is not JSON', 'probe.echo?input=%7Bnope', undefined, 400],
  ['a bad path encoding', '%E0%A4%A?input=1', undefined, 400],
  ['a procedure that sets Retry-After', 'probe.limited', undefined, 429],
  ['an internal error', 'probe.boom', undefined, 500],
  ['a HEAD request', 'probe.echo', { method: 'HEAD' }, 204],
  [
    'a body that is not JSON',
    'probe.add',
    { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' },
    415,
  ],
];

const REQUEST_LEVEL_ERRORS = [
  'a batch over maxBatchSize',
  'a batch mixing queries and mutations',
  'a doubly encoded bad path',
];

describe('raw HTTP', () => {
  it.each(RAW_CASES)('answers %s identically on both paths', async (name, path, init, status) => {
    const lean = await raw('lean', path, init);
    const official = await raw('official', path, init);
    // One deliberate difference: tRPC labels request-level errors (batch too large, mixed
    // types) text/plain although the body is JSON; the lean path says application/json.
    if (REQUEST_LEVEL_ERRORS.includes(name)) {
      expect(official.contentType).toMatch(/^text\/plain/);
      expect(lean.contentType).toBe('application/json');
      official.contentType = lean.contentType;
    }
    expect(lean).toEqual(official);
    expect(lean.status).toBe(status);
  });

  it('runs nothing for a batch whose input is an array', async () => {
    const before = additions;
    const res = await raw('lean', 'probe.add?batch=1', json('[{"json":{"a":1,"b":2}}]'));
    expect(res.body[0].error.json.message).toBe('"input" needs to be an object when doing a batch call');
    expect(additions).toBe(before);
  });

  it('reads the query as tRPC does: no fragment, malformed escapes decoded leniently, + as a space', async () => {
    const data = async (path: string) => (await raw('lean', path)).body.result.data.json;
    expect(await data(`probe.say?input=${enc({ json: { s: 'x' } })}#frag`)).toBe('x');
    expect(await data(say('100%'))).toBe('100%');
    expect(await data(say('%C3%28'))).toBe('\uFFFD(');
    expect(await data(say('a+b'))).toBe('a b');
  });

  it('sends Retry-After set by a procedure through ctx.resHeaders, and Allow on 405', async () => {
    expect((await raw('lean', 'probe.limited')).retryAfter).toBe('7');
    expect((await raw('lean', 'probe.add')).allow).toBe('POST');
  });
});
