// Property: no input a procedure's zod schema accepts makes it fail with
// INTERNAL_SERVER_ERROR (a 500 and an error-level log carrying SQL). Inputs are generated
// from each procedure's own schema (a walk over zod 4's definitions: no maintained
// zod→fast-check package supports zod 4; zod-fast-check needs zod 3), kept only when the
// schema accepts them, and sent to the procedure as a caller with the permissions and plan
// features it needs. Cursors are opaque strings to zod, so they are also generated in the
// shape the server makes (base64url JSON of a timestamp-like string and a uuid). Bounded:
// RUNS inputs per procedure, CALL_TIMEOUT_MS per call, a streamed answer read for its first
// chunks only, rate limits off; the file runs in well under 90 s.
// Below it, the examples as fixed cases.
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessClaims } from '../server/auth/tokens.ts';
import { appRouter } from '../server/routers/index.ts';
import type { AppDeps } from '../server/services.ts';
import { procedures } from '../server/trpc/invoke.ts';
import { ADMIN, ADMIN_ENV, PASSWORD } from './accounts.ts';
import {
  callerFor,
  callerRegister,
  callerSignIn,
  createTestDeps,
  NOTICE,
  REAL_DATABASE_URL,
} from './helpers.ts';
import { scaled } from './support/load.ts';

const RUNS = 15;
const CALL_TIMEOUT_MS = 5000;
const STREAM_CHUNKS = 3;

// --- Arbitraries from zod 4 schemas --------------------------------------------------------

type Def = {
  type: string;
  checks?: Array<{ _zod: { def: Record<string, unknown> } }>;
  [key: string]: unknown;
};
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

function bounds(def: Def) {
  const out: { min?: unknown; max?: unknown; minInclusive: boolean; maxInclusive: boolean; length?: number } =
    {
      minInclusive: true,
      maxInclusive: true,
    };
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'greater_than') [out.min, out.minInclusive] = [d.value, d.inclusive as boolean];
    if (d.check === 'less_than') [out.max, out.maxInclusive] = [d.value, d.inclusive as boolean];
    if (d.check === 'min_length') out.min = d.minimum;
    if (d.check === 'max_length') out.max = d.maximum;
    if (d.check === 'length_equals') out.length = d.length as number;
  }
  return out;
}

function patternOf(def: Def): RegExp | undefined {
  if (def.pattern instanceof RegExp) return def.pattern;
  for (const c of def.checks ?? [])
    if (c._zod.def.check === 'string_format' && c._zod.def.pattern instanceof RegExp)
      return c._zod.def.pattern;
  return undefined;
}

function stringArbitrary(def: Def): fc.Arbitrary<string> {
  if (def.format === 'uuid' || def.format === 'guid') return fc.uuid();
  if (def.format === 'email') return fc.emailAddress();
  const pattern = patternOf(def);
  const b = bounds(def);
  const min = b.length ?? (b.min as number | undefined) ?? 0;
  const max = b.length ?? (b.max as number | undefined) ?? 200;
  if (pattern) {
    // A token-like pattern with length bounds (e.g. ^[A-Za-z0-9_-]+$, 43 characters): strings
    // of the printable characters it takes on their own, as well as what it matches.
    const chars = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) =>
      pattern.test(c.repeat(Math.max(min, 1))),
    );
    const matching = fc.stringMatching(pattern);
    return chars.length === 0
      ? matching
      : fc.oneof(matching, fc.string({ unit: fc.constantFrom(...chars), minLength: min, maxLength: max }));
  }
  const short = Math.min(max, min + 40);
  // Ordinary text, any code point (NUL, lone surrogates), and the longest allowed.
  return fc.oneof(
    fc.string({ minLength: min, maxLength: short }),
    fc.string({ unit: 'binary', minLength: min, maxLength: short }),
    fc.constant('x'.repeat(max)),
  );
}

function numberArbitrary(def: Def): fc.Arbitrary<number> {
  const b = bounds(def);
  const integer = (def.checks ?? []).some((c) => c._zod.def.check === 'number_format');
  const lo = typeof b.min === 'number' ? b.min : undefined;
  const hi = typeof b.max === 'number' ? b.max : undefined;
  if (integer)
    return fc.integer({
      min: lo === undefined ? Number.MIN_SAFE_INTEGER : b.minInclusive ? lo : lo + 1,
      max: hi === undefined ? Number.MAX_SAFE_INTEGER : b.maxInclusive ? hi : hi - 1,
    });
  return fc.double({
    noNaN: true,
    noDefaultInfinity: true,
    ...(lo === undefined ? {} : { min: lo, minExcluded: !b.minInclusive }),
    ...(hi === undefined ? {} : { max: hi, maxExcluded: !b.maxInclusive }),
  });
}

const HOUR_MS = 3_600_000;
const THIS_HOUR = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;

/** A cursor shaped like the server's: base64url JSON of [timestamp-like, uuid] or [text, uuid]. */
const digits = (n: number) => fc.stringMatching(new RegExp(`^\\d{${n}}$`));
const timestampLike = fc
  .tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(6))
  .map(([y, mo, d, h, mi, s, us]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${us}Z`);
const cursorArbitrary = fc
  .oneof(
    fc.tuple(
      fc.oneof(
        timestampLike,
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      ),
      fc.uuid(),
    ),
    fc.tuple(fc.string({ unit: 'binary', maxLength: 20 }), fc.uuid()),
    fc.tuple(fc.integer()),
  )
  .map((key) => Buffer.from(JSON.stringify(key)).toString('base64url'));

function arbitraryFor(schema: unknown, key?: string): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return key === 'cursor' ? fc.oneof(cursorArbitrary, stringArbitrary(def)) : stringArbitrary(def);
    case 'number':
      return numberArbitrary(def);
    case 'boolean':
      return fc.boolean();
    case 'date': {
      const b = bounds(def);
      // Any date the bounds allow, and whole hours around now (a booking's slot rule).
      return fc.oneof(
        fc.date({
          noInvalidDate: true,
          ...(b.min instanceof Date ? { min: b.min } : {}),
          ...(b.max instanceof Date ? { max: b.max } : {}),
        }),
        fc.integer({ min: -400 * 24, max: 400 * 24 }).map((h) => new Date(THIS_HOUR + h * HOUR_MS)),
      );
    }
    case 'enum':
      return fc.constantFrom(...Object.values(def.entries as Record<string, unknown>));
    case 'literal':
      return fc.constantFrom(...(def.values as unknown[]));
    case 'undefined':
      return fc.constant(undefined);
    case 'optional':
    case 'default':
    case 'prefault':
      return fc.option(arbitraryFor(def.innerType, key), { nil: undefined });
    case 'nullable':
      return fc.option(arbitraryFor(def.innerType, key), { nil: null });
    case 'pipe':
      // What the pipe ends in (an email after trimming), unless that is a transform.
      return defOf(def.out).type === 'transform' ? arbitraryFor(def.in, key) : arbitraryFor(def.out, key);
    case 'array': {
      const b = bounds(def);
      const max = b.length ?? Math.min((b.max as number | undefined) ?? 5, 8);
      return fc.array(arbitraryFor(def.element), {
        minLength: b.length ?? (b.min as number) ?? 0,
        maxLength: max,
      });
    }
    case 'union':
      return fc.oneof(...(def.options as unknown[]).map((o) => arbitraryFor(o, key)));
    case 'record':
      // A JSON map (e.g. a passkey response's clientExtensionResults): string keys, small values.
      return fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.boolean()), {
        maxKeys: 3,
      });
    case 'object': {
      const shape = def.shape as Record<string, unknown>;
      const model = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, arbitraryFor(v, k)]));
      const requiredKeys = Object.keys(shape).filter(
        (k) => !['optional', 'default', 'prefault'].includes(defOf(shape[k]).type),
      );
      return fc.record(model, { requiredKeys });
    }
    default:
      throw new Error(`no arbitrary for zod type ${def.type}`);
  }
}

// --- Callers with the grants each procedure needs -------------------------------------------

type Meta = { auth: 'public' | 'user'; permission?: string; feature?: string };
// Queries and mutations (a subscription is a stream: crisis-live.test.ts checks its inputs).
const PROCEDURES = procedures(appRouter)
  .filter((p) => p.type !== 'subscription')
  .map((p) => [p.path, p] as const);

type Role = 'patient' | 'therapist' | 'admin';
const ROLES: Role[] = ['patient', 'therapist', 'admin'];

describe('no schema-accepted input makes a procedure fail with INTERNAL_SERVER_ERROR', () => {
  let deps: AppDeps & { dispose(): Promise<void> };
  let root: AccessClaims;
  /** One sample account's claims per role (enterprise plan: every feature), to read grants. */
  const sample = new Map<Role, AccessClaims>();
  let n = 0;

  async function signIn(email: string, password: string): Promise<AccessClaims> {
    // Staff complete the sign-in with a second factor (a passkey the helper enrols).
    const login = await callerSignIn(deps, { email, password });
    const claims = await deps.tokens.verify(login.accessToken);
    const accepted = await callerFor(deps, claims).privacy.acceptNotice({ version: NOTICE });
    return deps.tokens.verify(accepted.accessToken);
  }

  /** A fresh enterprise account of the role: a procedure's calls cannot spoil another's. */
  async function freshAccount(role: Role): Promise<AccessClaims> {
    n += 1;
    const email = `prop${n}-${randomUUID().slice(0, 8)}@example.com`;
    const reg = await callerRegister(deps, {
      email,
      password: PASSWORD,
      name: `Prop ${n}`,
      acceptPrivacyNotice: NOTICE,
    });
    const admin = callerFor(deps, root).admin.users;
    await admin.setPlan({ userId: reg.user.id, planCode: 'enterprise' });
    if (role !== 'patient') await admin.setRole({ userId: reg.user.id, role });
    return signIn(email, PASSWORD);
  }

  const grants = (c: AccessClaims, meta: Meta) =>
    (!meta.permission || c.permissions.includes(meta.permission)) &&
    (!meta.feature || c.features.includes(meta.feature));

  /** Who calls: nobody for public procedures, else the first role with the grants, else the superadmin. */
  async function callerClaims(meta: Meta): Promise<AccessClaims | null> {
    if (meta.auth === 'public') return null;
    const role = ROLES.find((r) => grants(sample.get(r)!, meta));
    return role ? freshAccount(role) : root;
  }

  beforeAll(async () => {
    deps = await createTestDeps(REAL_DATABASE_URL ? 'postgres' : 'pglite', { ...ADMIN_ENV });
    root = await signIn(ADMIN.email, ADMIN.password);
    for (const role of ROLES) sample.set(role, await freshAccount(role));
  }, scaled(60_000));
  afterAll(async () => {
    await deps?.dispose();
  });

  /** Calls the procedure; a stream is read for its first chunks. Resolves to the error, if any. */
  async function call(claims: AccessClaims | null, path: string, input: unknown): Promise<unknown> {
    const caller = callerFor(deps, claims, { ip: '10.1.2.3' }) as unknown as Record<string, unknown>;
    const fn = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], caller) as (
      i: unknown,
    ) => Promise<unknown>;
    const work = (async () => {
      const result = await fn(input);
      if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
        const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        try {
          for (let i = 0; i < STREAM_CHUNKS; i++) if ((await it.next()).done) break;
        } finally {
          await it.return?.();
        }
      }
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Error>((resolve) => {
      timer = setTimeout(
        () => resolve(new Error(`${path} took over ${CALL_TIMEOUT_MS} ms`)),
        CALL_TIMEOUT_MS,
      );
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  const internal = (err: unknown) =>
    !(err instanceof TRPCError) || err.code === 'INTERNAL_SERVER_ERROR'
      ? err === undefined
        ? undefined
        : err instanceof TRPCError
          ? (err.cause ?? err)
          : err
      : undefined;

  /** Outcome counts over all calls, by result code (OK or the TRPCError code). */
  const outcomes: Record<string, number> = {};
  const forbiddenOnly: string[] = [];
  function tally(path: string, err: unknown, seen: Map<string, Set<string>>) {
    const code = err === undefined ? 'OK' : err instanceof TRPCError ? err.code : 'THROWN';
    outcomes[code] = (outcomes[code] ?? 0) + 1;
    if (!seen.has(path)) seen.set(path, new Set());
    seen.get(path)!.add(code);
  }

  it(
    `holds for every procedure (${RUNS} accepted inputs each)`,
    async () => {
      const failures: string[] = [];
      const seen = new Map<string, Set<string>>();
      let calls = 0;
      for (const [path, proc] of PROCEDURES) {
        const meta = proc.meta as Meta;
        const claims = await callerClaims(meta);
        const schema = proc.input;
        if (!schema) {
          calls += 1;
          const outcome = await call(claims, path, undefined);
          tally(path, outcome, seen);
          const err = internal(outcome);
          if (err) failures.push(`${path}(): ${String(err)}`);
          continue;
        }
        const result = await fc.check(
          fc.asyncProperty(arbitraryFor(schema), async (input) => {
            fc.pre((await schema.safeParseAsync(input)).success);
            calls += 1;
            const outcome = await call(claims, path, input);
            tally(path, outcome, seen);
            const err = internal(outcome);
            if (err) throw err;
          }),
          { numRuns: RUNS, seed: 360, endOnFailure: true },
        );
        if (result.failed && result.counterexample === null)
          failures.push(`${path}: no accepted input generated (${result.numSkips} rejected by the schema)`);
        else if (result.failed)
          failures.push(
            `${path}(${fc.stringify(result.counterexample?.[0])}): ${String(result.errorInstance)}`,
          );
      }
      for (const [path, codes] of seen)
        if (codes.size === 1 && (codes.has('FORBIDDEN') || codes.has('UNAUTHORIZED')))
          forbiddenOnly.push(path);
      console.log(`[property-inputs] ${calls} calls over ${PROCEDURES.length} procedures:`, outcomes);
      console.log(`[property-inputs] refused every call: ${forbiddenOnly.join(', ') || 'none'}`);
      expect(calls).toBeGreaterThan(PROCEDURES.length * 5);
      expect(failures).toEqual([]);
    },
    scaled(120_000),
  );

  // --- The examples --------------------------------------------------------------

  const extremes = [
    ['+275760-09-13', new Date('+275760-09-13T00:00:00.000Z')],
    ['year 0000', new Date('0000-01-01T00:00:00.000Z')],
    ['a negative year', new Date('-000042-06-01T00:00:00.000Z')],
  ] as const;
  const badCursors = [
    [
      '2024-99-99T99:99:99Z',
      Buffer.from(JSON.stringify(['2024-99-99T99:99:99Z', randomUUID()])).toString('base64url'),
    ],
    [
      '2024-99-99T99:99:99.000000Z',
      Buffer.from(JSON.stringify(['2024-99-99T99:99:99.000000Z', randomUUID()])).toString('base64url'),
    ],
    [
      '2024-02-30T10:00:00.000000Z',
      Buffer.from(JSON.stringify(['2024-02-30T10:00:00.000000Z', randomUUID()])).toString('base64url'),
    ],
    [
      '0000-01-01T00:00:00.000000Z',
      Buffer.from(JSON.stringify(['0000-01-01T00:00:00.000000Z', randomUUID()])).toString('base64url'),
    ],
  ] as const;

  async function codeOf(role: Role, path: string, input: unknown): Promise<string> {
    const err = await call(sample.get(role)!, path, input); // reads only: the shared account
    return err instanceof TRPCError ? err.code : String(err);
  }

  it.each(extremes)('answers BAD_REQUEST to %s as a date in a range', async (_name, date) => {
    expect(await codeOf('patient', 'mood.list', { from: date })).toBe('BAD_REQUEST');
    expect(await codeOf('patient', 'mood.list', { to: date })).toBe('BAD_REQUEST');
    expect(await codeOf('therapist', 'therapy.schedule', { from: date })).toBe('BAD_REQUEST');
    expect(await codeOf('therapist', 'therapy.schedule', { to: date })).toBe('BAD_REQUEST');
    expect(await codeOf('admin', 'admin.audit.list', { from: date })).toBe('BAD_REQUEST');
    expect(await codeOf('patient', 'reports.mood', { from: date, to: date })).toBe('BAD_REQUEST');
  });

  it.each(badCursors)(
    'answers BAD_REQUEST to a cursor holding %s in every keyset list',
    async (_name, cursor) => {
      expect(await codeOf('patient', 'mood.list', { cursor })).toBe('BAD_REQUEST');
      expect(await codeOf('patient', 'assessments.history', { cursor })).toBe('BAD_REQUEST');
      expect(await codeOf('patient', 'therapy.mine', { cursor })).toBe('BAD_REQUEST');
      expect(await codeOf('therapist', 'therapy.schedule', { cursor })).toBe('BAD_REQUEST');
      expect(await codeOf('therapist', 'crisis.list', { cursor })).toBe('BAD_REQUEST');
      expect(await codeOf('patient', 'support.listMine', { cursor })).toBe('BAD_REQUEST');
      expect(await codeOf('admin', 'admin.users.list', { cursor })).toBe('BAD_REQUEST');
    },
  );

  it('still pages with the cursors it hands out, and takes dates within 1900..2199', async () => {
    const patient = await freshAccount('patient');
    const api = callerFor(deps, patient);
    for (let i = 0; i < 3; i++) await api.mood.log({ score: 5 });
    const first = await api.mood.list({ limit: 2, from: new Date('1900-01-01T00:00:00.000Z') });
    expect(first.items).toHaveLength(2);
    const second = await api.mood.list({
      limit: 2,
      cursor: first.nextCursor!,
      to: new Date('2199-12-31T23:59:59.999Z'),
    });
    expect(second.items).toHaveLength(1);
  });
});
