// Differential test of the two tRPC request paths: a seeded generator of random requests
// (methods, odd path encodings, batches mixing types and unknown procedures, valid,
// invalid, non-object, array and huge inputs, content types, trpc-accept, accept-encoding,
// odd Host headers) sent to two servers of the same build, one with TRPC_PATH=lean and one
// with TRPC_PATH=official. Each server has a database of its own, seeded the same way, and
// gets the same requests in the same order one at a time, so mutations change both states
// alike. Answers must match in status, the headers a client acts on, and body, after
// removing what legitimately differs between two databases (ids, times, tokens); the only
// other differences allowed are listed in ALLOWED_DIFFERENCES, each with its reason
// (docs/decisions/lean-request-path.md lists the same).
//
// Before the random requests, the shapes of past divergences run as fixed cases (SHAPES): a
// JSON body with a UTF-8 BOM, bracketed Host headers that are no IPv6 address, non-streaming
// calls of streaming procedures. A second part compares REST (/api) with /trpc for the same
// procedure and input: bodies (JSON strings, empty, invalid, BOM), wrong methods, and query
// values as numbers (`1e1`, `+5`, `abc`): same status, code, message and data.
//
// DIFF_SEED and DIFF_COUNT make a longer run: DIFF_SEED=7 DIFF_COUNT=5000 npx vitest run test/lean-differential.test.ts
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_ENV, adminAccount } from './accounts.ts';
import { NOTICE } from './helpers.ts';
import {
  type RawRequest,
  type RawResponse,
  registerUser,
  sendRaw,
  startTestServer,
  type TestServer,
  type TrpcPath,
} from './server.ts';

const SEED = Number(process.env.DIFF_SEED ?? 1);
const COUNT = Number(process.env.DIFF_COUNT ?? 300);

/** A request as generated: `auth` names a credential, resolved per server. */
interface Spec extends RawRequest {
  /** patient: free plan; enterprise: a patient with every feature (export, reports). */
  auth: 'patient' | 'enterprise' | 'bad' | 'none';
}

/** What is compared of an answer. */
interface Seen {
  status: number;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  allow: string | undefined;
  retryAfter: string | undefined;
  vary: string | undefined;
  body: unknown;
}

/** Hosts the URL parser refuses (the official adapter builds a URL from Host), bracketed non-IPv6 ones too. */
const ODD_HOSTS = ['a b', 'user@host', 'exa mple.com:80', '[::1', 'host:99999', '[1::2::3]', '[1.2.3.4]'];
const BOM = '\uFEFF';

/** Past divergences, sent before the random requests. */
const SHAPES: Spec[] = [
  // A JSON body starting with a UTF-8 BOM: read as JSON (a Fetch Request's text() drops it).
  {
    method: 'POST',
    path: '/trpc/mood.log',
    headers: { 'content-type': 'application/json' },
    body: `${BOM}{"json":{"score":6}}`,
    auth: 'patient',
  },
  {
    method: 'POST',
    path: '/trpc/mood.log,mood.log?batch=1',
    headers: { 'content-type': 'application/json' },
    body: `${BOM}{"0":{"json":{"score":6}},"1":{"json":{"score":"6"}}}`,
    auth: 'patient',
  },
  // Bracketed hosts that are no IPv6 address: 400 on every request, mutations included.
  ...['[1::2::3]', '[1.2.3.4]', '[:]'].flatMap((host): Spec[] => [
    { method: 'GET', path: '/trpc/subscriptions.plans', headers: { host }, auth: 'none' },
    { method: 'HEAD', path: '/trpc/subscriptions.plans', headers: { host }, auth: 'none' },
    {
      method: 'POST',
      path: '/trpc/mood.log',
      headers: { host, 'content-type': 'application/json' },
      body: '{"json":{"score":3}}',
      auth: 'patient',
    },
    {
      method: 'GET',
      path: '/trpc/auth.me',
      headers: { host, 'trpc-accept': 'application/jsonl' },
      auth: 'patient',
    },
  ]),
  // Streaming procedures called without streaming: 415, shaped as tRPC shapes it.
  { method: 'GET', path: '/trpc/export.mine', auth: 'enterprise' },
  { method: 'GET', path: '/trpc/export.mine,auth.me?batch=1', auth: 'enterprise' },
  {
    method: 'GET',
    path: `/trpc/reports.mood?input=${encodeURIComponent(JSON.stringify({ json: { from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' }, meta: { values: { from: ['Date'], to: ['Date'] } } }))}`,
    auth: 'enterprise',
  },
  { method: 'GET', path: '/trpc/export.mine', auth: 'patient' },
];

/**
 * The differences allowed between the paths, and why. Each says whether it explains a pair
 * of answers; a pair that differs for any other reason fails the test.
 */
const ALLOWED_DIFFERENCES: Array<{
  name: string;
  reason: string;
  explains(spec: Spec, lean: Seen, official: Seen): boolean;
}> = [
  {
    name: 'request-level error content type',
    reason:
      'tRPC labels a request-level error (bad path encoding, batch too large, mixed types) text/plain ' +
      'although the body is the same JSON; the lean path labels it application/json',
    explains: (_spec, lean, official) =>
      official.contentType?.startsWith('text/plain') === true &&
      lean.contentType === 'application/json' &&
      sameExcept(lean, official, 'contentType'),
  },
];

function sameExcept(a: Seen, b: Seen, key: keyof Seen): boolean {
  return JSON.stringify({ ...a, [key]: null }) === JSON.stringify({ ...b, [key]: null });
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
  };
}
type Rng = ReturnType<typeof prng>;

const PATIENT = { email: 'diff.patient@example.com', password: 'patient password 1' };
const ENTERPRISE = { email: 'diff.enterprise@example.com', password: 'enterprise password 1' };

/** Procedure paths, unknown ones and odd spellings of real ones. */
const PATHS = [
  'subscriptions.plans',
  'subscriptions.current',
  'auth.me',
  'auth.login',
  'auth.register',
  'auth.refresh',
  'users.profile',
  'users.updateProfile',
  'mood.log',
  'mood.list',
  'assessments.history',
  'therapists.list',
  'admin.users.list',
  'export.mine',
  'reports.mood',
  'nope.missing',
  'mood',
  'mood%2Elist',
  'mood%252Elist',
  'Mood.List',
  'auth.me%',
  '%E0%A4%A',
  '%25E0%25A4%25A',
  'auth.me%20',
  'auth.me;x',
] as const;

/** Inputs per procedure: valid ones, and ones each procedure must refuse. */
function validInput(rng: Rng, path: string): unknown {
  switch (path) {
    case 'mood.log':
      return { score: rng.int(1, 10), ...(rng.chance(0.5) ? { note: 'felt ok', tags: ['work'] } : {}) };
    case 'mood.list':
      return rng.chance(0.5) ? {} : { limit: rng.int(1, 5) };
    case 'users.updateProfile':
      return { name: `Renamed ${rng.int(1, 9)}` };
    case 'auth.login':
      return { email: PATIENT.email, password: rng.chance(0.5) ? PATIENT.password : 'wrong password' };
    case 'auth.register':
      return { email: `diff.${rng.int(1, 20)}@example.com`, password: 'a long password', name: 'New' };
    case 'auth.refresh':
      return { refreshToken: 'x'.repeat(43) };
    case 'assessments.history':
    case 'therapists.list':
    case 'admin.users.list':
      return {};
    default:
      return undefined;
  }
}
function anyInput(rng: Rng, path: string): unknown {
  return rng.pick([
    () => validInput(rng, path),
    () => validInput(rng, path),
    () => ({ score: 11, unknown: true }),
    () => ({ name: 'x'.repeat(rng.pick([101, 6000])) }),
    () => rng.pick([5, 'x', null, true]),
    () => [validInput(rng, path)],
  ])();
}
/** superjson's wire form, or (sometimes) a bare value superjson does not expect. */
const wire = (rng: Rng, value: unknown) => (rng.chance(0.9) ? { json: value } : value);

/** The input part of a request: per call for a batch (object, array or worse), or one value. */
function inputFor(rng: Rng, paths: string[], batch: boolean): string | undefined {
  if (rng.chance(0.1)) return undefined;
  if (rng.chance(0.05)) return rng.pick(['{nope', '', 'null', '%', '"text"']);
  if (!batch) return JSON.stringify(wire(rng, anyInput(rng, paths[0]!)));
  const calls = paths.map((p) => wire(rng, anyInput(rng, p)));
  const shape = rng.pick(['object', 'object', 'object', 'array', 'scalar'] as const);
  if (shape === 'array') return JSON.stringify(calls);
  if (shape === 'scalar') return '5';
  return JSON.stringify(Object.fromEntries(calls.map((c, i) => [i, c])));
}

/** Percent-encodes a query value, sometimes with escapes a strict decoder refuses. */
function queryValue(rng: Rng, value: string): string {
  const encoded = encodeURIComponent(value);
  return rng.pick([
    () => encoded,
    () => encoded,
    () => encoded.replace('%22', '%C3%28%22'), // invalid UTF-8 before a quote
    () => encoded.replace(/%2C/g, ','),
    () => `${encoded}&input=%7B%7D`, // a second input: the first counts
    () => `${encoded}#fragment`,
  ])();
}

function generate(rng: Rng): Spec {
  const method = rng.chance(0.9) ? rng.pick(['GET', 'POST']) : rng.pick(['HEAD', 'PUT', 'DELETE', 'PATCH']);
  const batch = rng.chance(0.4);
  const paths = Array.from({ length: batch ? rng.int(1, rng.chance(0.1) ? 12 : 4) : 1 }, () =>
    rng.pick(PATHS),
  );
  const input = inputFor(rng, paths, batch);
  const query: string[] = [];
  if (batch) query.push(rng.pick(['batch=1', 'batch=1', 'batch=1', 'batch=true', 'batch=1#x']));
  let body: string | undefined;
  if (method === 'GET' || method === 'HEAD') {
    if (input !== undefined) query.push(`input=${queryValue(rng, input)}`);
  } else {
    body = rng.chance(0.02) ? `{"json":{"note":"${'x'.repeat(1_100_000)}"}}` : input;
    if (body !== undefined && rng.chance(0.05)) body = `${BOM}${body}`;
  }
  if (rng.chance(0.05)) query.push('connectionParams=%7B%7D');
  const headers: Record<string, string> = {};
  const type =
    method === 'GET' || method === 'HEAD'
      ? rng.pick([undefined, undefined, undefined, 'application/json', 'text/plain'])
      : rng.pick([
          'application/json',
          'application/json',
          'application/json; charset=utf-8',
          'APPLICATION/JSON',
          'text/plain',
          'application/octet-stream',
          undefined,
        ]);
  if (type) headers['content-type'] = type;
  if (rng.chance(0.1)) headers['trpc-accept'] = 'application/jsonl';
  if (rng.chance(0.05)) headers.accept = 'application/jsonl';
  const encoding = rng.pick([undefined, 'gzip', 'br', 'gzip, br', 'identity']);
  if (encoding) headers['accept-encoding'] = encoding;
  // An unparseable Host: refused (400) before either path sees the request, mutations included.
  if (rng.chance(0.08)) headers.host = rng.pick(ODD_HOSTS);
  const search = query.length ? `?${query.join('&')}` : '';
  return {
    method,
    path: `/trpc/${paths.join(',')}${search}`,
    headers,
    ...(body === undefined ? {} : { body }),
    auth: rng.pick(['patient', 'patient', 'patient', 'enterprise', 'bad', 'none']),
  };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;
const OPAQUE = /^[\w-]{32,}={0,2}$/;

/** Replaces what two databases legitimately differ in: ids (by first appearance), times, tokens, cursors. */
function normalize(value: unknown, ids = new Map<string, string>()): unknown {
  if (typeof value === 'string') {
    if (ISO_TIME.test(value)) return '<time>';
    if (JWT.test(value)) return '<jwt>';
    const withIds = value.replace(UUID, (id) => {
      if (!ids.has(id)) ids.set(id, `<id${ids.size}>`);
      return ids.get(id)!;
    });
    return OPAQUE.test(withIds) ? '<opaque>' : withIds;
  }
  if (Array.isArray(value)) return value.map((v) => normalize(v, ids));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, ids)]));
  return value;
}

/** The body as JSON when it is (one value, or JSON lines), else its text. */
function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    try {
      return text.split('\n').map((line) => (line === '' ? line : JSON.parse(line)));
    } catch {
      return text;
    }
  }
}

function seen(res: RawResponse): Seen {
  const header = (name: string) => res.headers[name] as string | undefined;
  return {
    status: res.status,
    contentType: header('content-type'),
    contentEncoding: header('content-encoding'),
    allow: header('allow'),
    retryAfter: header('retry-after'),
    vary: header('vary'),
    body: normalize(parseBody(res.body)),
  };
}

describe('lean and official paths answer random requests alike', () => {
  const servers = {} as Record<TrpcPath, { server: TestServer; token: string; enterprise: string }>;
  beforeAll(async () => {
    for (const trpcPath of ['lean', 'official'] as const) {
      const server = await startTestServer({ trpcPath, env: ADMIN_ENV });
      const anon = server.client();
      const { accessToken } = await registerUser(server, {
        ...PATIENT,
        name: 'Patient',
        acceptPrivacyNotice: NOTICE,
      });
      // The same email and name on both servers (their answers are compared).
      const root = (await adminAccount(server)).api;
      const rich = await registerUser(server, {
        ...ENTERPRISE,
        name: 'Rich',
        acceptPrivacyNotice: NOTICE,
      });
      await root.admin.users.setPlan.mutate({ userId: rich.user.id, planCode: 'enterprise' });
      // A confirmed address (export needs it; the link is tested in account-email.test.ts).
      await server.deps.db.execute(
        sql`UPDATE users SET email_verified_at = now() WHERE id = ${rich.user.id}`,
      );
      const enterprise = (await anon.auth.login.mutate(ENTERPRISE)).accessToken;
      servers[trpcPath] = { server, token: accessToken, enterprise };
    }
  }, 240_000); // two servers and five password hashes each: slow on a loaded machine
  afterAll(async () => {
    for (const s of Object.values(servers)) await s.server.close();
  });

  async function send(trpcPath: TrpcPath, spec: Spec): Promise<Seen> {
    const { server, token, enterprise } = servers[trpcPath];
    const authorization =
      spec.auth === 'patient'
        ? `Bearer ${token}`
        : spec.auth === 'enterprise'
          ? `Bearer ${enterprise}`
          : spec.auth === 'bad'
            ? 'Bearer not.a.jwt'
            : undefined;
    const headers = { ...spec.headers, ...(authorization ? { authorization } : {}) };
    return seen(await sendRaw(server.url, { ...spec, headers }));
  }

  it(
    `seed ${SEED}, ${COUNT} requests: only documented differences`,
    async () => {
      const rng = prng(SEED);
      const tally = new Map<string, number>([['identical', 0]]);
      const statuses = new Map<number, number>();
      const failures: string[] = [];
      const shapes: Array<{ spec: Spec; lean: Seen; official: Seen }> = [];
      for (let i = -SHAPES.length; i < COUNT; i++) {
        const spec = i < 0 ? SHAPES[i + SHAPES.length]! : generate(rng);
        const lean = await send('lean', spec);
        const official = await send('official', spec);
        statuses.set(official.status, (statuses.get(official.status) ?? 0) + 1);
        if (i < 0) shapes.push({ spec, lean, official });
        const explained =
          JSON.stringify(lean) === JSON.stringify(official)
            ? 'identical'
            : ALLOWED_DIFFERENCES.find((d) => d.explains(spec, lean, official))?.name;
        if (explained) tally.set(explained, (tally.get(explained) ?? 0) + 1);
        else
          failures.push(
            `#${i} ${spec.method} ${spec.path.slice(0, 300)} ${JSON.stringify(spec.headers)} body=${spec.body?.slice(0, 200)}\n` +
              `  lean:     ${JSON.stringify(lean).slice(0, 600)}\n  official: ${JSON.stringify(official).slice(0, 600)}`,
          );
      }
      console.log(
        `[lean-differential] seed ${SEED}, ${COUNT} requests: ${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}; ` +
          `statuses ${[...statuses]
            .sort(([a], [b]) => a - b)
            .map(([s, n]) => `${s}×${n}`)
            .join(' ')}`,
      );
      expect(failures, failures.slice(0, 5).join('\n')).toEqual([]);
      // The generator reaches the interesting answers, not only refusals.
      // No server error for anything a client sent.
      expect([...statuses.keys()].filter((status) => status >= 500)).toEqual([]);
      // The fixed shapes answer as the contract says (not only alike).
      const [bom, bomBatch] = shapes;
      expect(bom!.lean).toMatchObject({ status: 200 });
      expect(bomBatch!.lean.status).toBe(207);
      for (const { spec, lean } of shapes.filter((x) => x.spec.headers?.host))
        expect([spec.method, spec.headers?.host, lean.status]).toEqual([
          spec.method,
          spec.headers?.host,
          400,
        ]);
      const exports = shapes.filter((x) => x.spec.path.startsWith('/trpc/export.mine'));
      expect(exports.map((x) => x.lean.status)).toEqual([415, 207, 403]);
      // A single call's 415 is a request-level error in tRPC: no path in its data.
      expect(exports[0]!.lean.body).toMatchObject({
        error: { json: { code: -32015, data: { code: 'UNSUPPORTED_MEDIA_TYPE', httpStatus: 415 } } },
      });
      expect(JSON.stringify(exports[0]!.lean.body)).not.toContain('"path"');
      for (const status of [200, 207, 400, 401, 404, 405])
        expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
    },
    60_000 + COUNT * 400, // ~10 s for 300 on an idle 2-core machine; far more on a loaded one
  );

  /** An answer as a client of either wire reads an error: status, code, message, data (or just the status). */
  function errorOf(res: RawResponse, wire: 'rest' | 'trpc') {
    const body = parseBody(res.body) as Record<string, unknown>;
    const allow = res.headers.allow;
    if (res.status < 400) return { status: res.status };
    if (wire === 'rest') {
      const { code, message, data } = body;
      return { status: res.status, allow, keys: Object.keys(body).sort(), code, message, data };
    }
    const error = (body.error as { json: { message: string; data: { code: string } } }).json;
    return {
      status: res.status,
      allow,
      keys: ['code', 'data', 'message'],
      code: error.data.code,
      message: error.message,
      data: error.data,
    };
  }

  it('REST answers as /trpc: bodies, methods, query-string numbers, type errors', async () => {
    const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
    const failures: string[] = [];
    const seenRest = new Map<string, ReturnType<typeof errorOf>>();
    for (const trpcPath of ['lean', 'official'] as const) {
      const { server, token } = servers[trpcPath];
      const auth = { authorization: `Bearer ${token}` };
      const json = { ...auth, 'content-type': 'application/json' };
      const pairs: Array<[string, RawRequest, RawRequest]> = [];
      // mood.log: the body as REST takes it, and as /trpc takes it (superjson's {json}).
      for (const [name, rest, trpc] of [
        ['valid', '{"score":5}', '{"json":{"score":5}}'],
        ['wrong type', '{"score":"7"}', '{"json":{"score":"7"}}'],
        ['JSON string', '"hello"', '{"json":"hello"}'],
        ['JSON number', '5', '{"json":5}'],
        ['JSON null', 'null', '{"json":null}'],
        ['array', '[{"score":5}]', '{"json":[{"score":5}]}'],
        ['empty', '', ''],
        ['blank', ' ', ' '],
        ['invalid', '{bad', '{bad'],
        ['truncated', '{"score":5', '{"score":5'],
        ['BOM', `${BOM}{"score":5}`, `${BOM}{"json":{"score":5}}`],
      ] as const)
        pairs.push([
          `mood.log ${name}`,
          { method: 'POST', path: '/api/mood/log', headers: json, body: rest },
          { method: 'POST', path: '/trpc/mood.log', headers: json, body: trpc },
        ]);
      // Wrong methods.
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH'])
        pairs.push([
          `mood.log ${method}`,
          // (with a JSON type: tRPC checks the body type before the method)
          { method, path: '/api/mood/log', headers: method === 'GET' ? auth : json },
          { method, path: '/trpc/mood.log', headers: method === 'GET' ? auth : json },
        ]);
      pairs.push([
        'mood.list POST',
        { method: 'POST', path: '/api/mood/list', headers: json, body: '{}' },
        { method: 'POST', path: '/trpc/mood.list', headers: json, body: '{"json":{}}' },
      ]);
      // Query-string values: a JSON number literal is that number, anything else a string.
      for (const value of ['5', '1e1', '+5', 'abc', '05', '-1', '1.5', '1e400', ' 5', ''])
        pairs.push([
          `mood.list limit=${JSON.stringify(value)}`,
          { method: 'GET', path: `/api/mood/list?limit=${encodeURIComponent(value)}`, headers: auth },
          {
            method: 'GET',
            path: `/trpc/mood.list?input=${encodeURIComponent(`{"json":{"limit":${NUMBER.test(value) ? value : JSON.stringify(value)}}}`)}`,
            headers: auth,
          },
        ]);
      for (const [name, rest, trpc] of pairs) {
        const a = errorOf(await sendRaw(server.url, rest), 'rest');
        const b = errorOf(await sendRaw(server.url, trpc), 'trpc');
        seenRest.set(name, a);
        if (JSON.stringify(a) !== JSON.stringify(b))
          failures.push(`${trpcPath} ${name}\n  rest: ${JSON.stringify(a)}\n  trpc: ${JSON.stringify(b)}`);
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
    // What the contract says of these REST answers, beyond their being /trpc's.
    expect(seenRest.get('mood.log valid')).toEqual({ status: 200 });
    expect(seenRest.get('mood.log BOM')).toEqual({ status: 200 });
    expect(seenRest.get('mood.log wrong type')).toMatchObject({
      status: 400,
      message: 'score: expected a number',
    });
    expect(seenRest.get('mood.log JSON string')).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    for (const name of ['mood.log empty', 'mood.log invalid'])
      expect(seenRest.get(name), name).toMatchObject({ status: 400, keys: ['code', 'data', 'message'] });
    expect(seenRest.get('mood.log PUT')).toMatchObject({
      status: 405,
      allow: 'POST',
      code: 'METHOD_NOT_SUPPORTED',
    });
    expect(seenRest.get('mood.list limit="1e1"')).toEqual({ status: 200 });
    expect(seenRest.get('mood.list limit="+5"')).toMatchObject({ status: 400 });
    expect(seenRest.get('mood.list limit="abc"')).toMatchObject({
      status: 400,
      message: 'limit: expected a number',
    });
  });
});
