// SECURITY-TESTS 36–41: hostile request shapes against the real HTTP server. Each answer
// must be a clean 4xx (or a generic 500) with no procedure run, no SQL issued, and nothing
// internal (SQL, parameters, stack) in the body.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onQuery } from '../../db/client.ts';
import { DEFAULT_PRIVACY_NOTICE_VERSION } from '../../server/config.ts';
import { createLogger } from '../../server/create-services.ts';
import { NOTICE } from '../helpers.ts';
import { leaksInternals, startTestServer, type TestServer, trpcInput } from '../server.ts';
import { confirmRegistrationSql } from '../support/register.ts';

// Both tRPC request paths parse batches and bodies their own way: each gets the catalogue.
describe.each(['lean', 'official'] as const)(
  'hostile request shapes on the %s path (SECURITY-TESTS 36–41)',
  (trpcPath) => {
    let server: TestServer;
    let token: string;
    /** Procedure calls and SQL statements seen since the last reset. */
    const seen = { procedures: 0, queries: 0 };
    /** What the server logged (JSON lines), through the production logger's redaction. */
    const logLines: string[] = [];
    let stopQueries: () => void;

    beforeAll(async () => {
      server = await startTestServer({
        env: { TRPC_PATH: trpcPath },
        log: createLogger({ LOG_LEVEL: 'info' }, { write: (line) => logLines.push(line) }),
      });
      const hooks = server.deps.hooks;
      const previous = hooks.onProcedure;
      hooks.onProcedure = (report) => {
        seen.procedures += 1;
        previous?.(report);
      };
      stopQueries = onQuery((scope) => {
        // Not a timer's resync or poll (inBackground): the statements requests make.
        if (!scope?.background) seen.queries += 1;
      });
      ({ token } = await server.deps.tokens.sign(
        {
          id: randomUUID(),
          email: 'input@example.com',
          role: 'patient',
          privilegeLevel: 10,
          permissions: ['profile.read', 'mood.write', 'mood.read', 'sessions.book'],
          features: ['mood_tracking', 'therapist_booking'],
          plan: 'free',
          privacyNotice: DEFAULT_PRIVACY_NOTICE_VERSION,
        },
        randomUUID(),
      ));
    });
    afterAll(async () => {
      stopQueries?.();
      await server?.close();
    });
    function reset() {
      seen.procedures = 0;
      seen.queries = 0;
    }
    async function send(path: string, init: RequestInit = {}) {
      const res = await fetch(`${server.url}${path}`, init);
      const body = await res.text();
      expect(leaksInternals(body), body).toBe(false);
      return { status: res.status, body, headers: res.headers };
    }
    const auth = () => ({ authorization: `Bearer ${token}` });

    it('36 /trpc/,,,,(×1000)?batch=1 → 400 and no procedure runs', async () => {
      reset();
      const { status, body } = await send(
        `/trpc/${','.repeat(1000)}?batch=1&input=${encodeURIComponent('{}')}`,
      );
      expect(status).toBe(400);
      expect(body).toMatch(/batch/i);
      // A thousand real names with a valid token, as GET and POST: refused before any
      // procedure (400 from the batch limit, or 414 when the path is longer than allowed).
      const names = `/trpc/${'auth.me,'.repeat(1000)}auth.me?batch=1`;
      expect([400, 414]).toContain((await send(names, { headers: auth() })).status);
      const post = await send(names, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth() },
        body: '{}',
      });
      expect([400, 414]).toContain(post.status);
      expect(seen).toEqual({ procedures: 0, queries: 0 });
    });

    it('37 a batch of 50 valid calls → 400, none runs (a batch of 10 works)', async () => {
      reset();
      const paths = (n: number) => Array(n).fill('auth.me').join(',');
      const fifty = await send(`/trpc/${paths(50)}?batch=1`, { headers: auth() });
      expect(fifty.status).toBe(400);
      expect(seen.procedures).toBe(0);
      const ten = await send(`/trpc/${paths(server.deps.config.MAX_BATCH_SIZE)}?batch=1`, {
        headers: auth(),
      });
      expect(ten.status).toBe(200);
      const results = JSON.parse(ten.body) as Array<{ result?: unknown }>;
      expect(results).toHaveLength(server.deps.config.MAX_BATCH_SIZE);
      expect(results.every((r) => r.result)).toBe(true);
      expect(seen.procedures).toBe(server.deps.config.MAX_BATCH_SIZE);
    });

    it('38 a body over the limit → 413 as clean JSON, server still healthy', async () => {
      reset();
      const big = trpcInput({ email: 'a@example.com', password: 'x'.repeat(2 * 1024 * 1024) });
      const { status, body } = await send('/trpc/auth.login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: big,
      });
      expect(status).toBe(413);
      expect(() => JSON.parse(body)).not.toThrow();
      expect(body.length).toBeLessThan(2000);
      expect(seen).toEqual({ procedures: 0, queries: 0 });
      expect((await send('/healthz')).status).toBe(200);
    });

    /** A raw tRPC POST with the patient's token; returns status and parsed error. */
    async function mutate(path: string, body: string, bearer = token) {
      const res = await send(`/trpc/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body,
      });
      return {
        status: res.status,
        body: res.body,
        error: res.body ? JSON.parse(res.body).error?.json : undefined,
      };
    }

    it('39 {"__proto__":{"isAdmin":true}} → 400 or dropped, Object.prototype untouched', async () => {
      const password = 'a password 39';
      expect(
        (
          await mutate(
            'auth.register',
            trpcInput({ email: 'proto@example.com', password, name: 'P', acceptPrivacyNotice: NOTICE }),
          )
        ).status,
      ).toBe(200);
      await server.deps.db.execute(confirmRegistrationSql('proto@example.com'));
      reset();
      const login = `"email":"proto@example.com","password":"${password}"`;
      const bodies = [
        `{"json":{${login},"__proto__":{"isAdmin":true,"role":"superadmin"}}}`,
        `{"json":{${login},"constructor":{"prototype":{"isAdmin":true}}}}`,
        `{"__proto__":{"isAdmin":true},"json":{${login}}}`,
        // superjson's meta names paths to rebuild: a path through __proto__ must not be followed.
        `{"json":{${login}},"meta":{"values":{"__proto__.isAdmin":["undefined"]}}}`,
        `{"json":{${login},"x":{}},"meta":{"referentialEqualities":{"x":["__proto__.isAdmin"]}}}`,
      ];
      for (const body of bodies) {
        const res = await mutate('auth.login', body);
        // Refused as bad input, or the key was dropped and the login is an ordinary one.
        expect([400, 200], body).toContain(res.status);
        if (res.status === 200) {
          const { user } = JSON.parse(res.body).result.data.json;
          expect(user.role).toBe('patient');
          expect(user).not.toHaveProperty('isAdmin');
        }
      }
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('isAdmin');
      expect(Object.prototype).not.toHaveProperty('role');
    });

    it('40 extra keys / oversized strings → 400 with zodError, no DB call', async () => {
      reset();
      const cases: Array<[string, unknown, string]> = [
        [
          'auth.register',
          { email: 'x@example.com', password: 'long enough', name: 'X', role: 'superadmin' },
          '',
        ],
        ['auth.login', { email: 'x@example.com', password: 'long enough', isAdmin: true }, ''],
        ['mood.log', { score: 5, userId: randomUUID() }, ''],
        ['mood.log', { score: 5, note: 'n'.repeat(100_000) }, 'note'],
        ['mood.log', { score: 5, tags: Array(1000).fill('tag') }, 'tags'],
        ['mood.log', { score: 11 }, 'score'],
        [
          'auth.register',
          { email: `${'a'.repeat(300)}@example.com`, password: 'long enough', name: 'X' },
          'email',
        ],
        [
          'auth.register',
          { email: 'x@example.com', password: 'long enough', name: 'N'.repeat(10_000) },
          'name',
        ],
      ];
      for (const [path, input, field] of cases) {
        const res = await mutate(path, trpcInput(input));
        expect(res.status, `${path} ${JSON.stringify(input).slice(0, 80)}`).toBe(400);
        const zodError = res.error.data.zodError;
        expect(zodError).toBeTruthy();
        if (field) expect(zodError.fieldErrors[field]).toBeDefined();
        else expect(zodError.formErrors.join(' ')).toMatch(/unrecognized key/i);
      }
      expect(seen.queries).toBe(0);
    });

    it('a lone surrogate in any free text → 400 naming the field, no DB call (PostgreSQL answered 500)', async () => {
      reset();
      const lone = '\ud800';
      const cases: Array<[string, unknown, string]> = [
        ['mood.log', { score: 5, note: `ok ${lone}` }, 'note'],
        ['mood.log', { score: 5, tags: ['fine', `x\udfffy`] }, 'tags'],
        [
          'auth.register',
          { email: 'x@example.com', password: `pass ${lone} word`, name: 'X', acceptPrivacyNotice: NOTICE },
          'password',
        ],
        [
          'auth.register',
          { email: 'x@example.com', password: 'long enough', name: lone, acceptPrivacyNotice: NOTICE },
          'name',
        ],
      ];
      for (const [path, input, field] of cases) {
        const body = trpcInput(input);
        expect(body).toMatch(/\\ud[8-9a-f]/); // sent as JSON's \uD800 escape
        const res = await mutate(path, body);
        expect(res.status, `${path} ${field}`).toBe(400);
        expect(res.error.message).toMatch(/valid Unicode text/);
        expect(Object.keys(res.error.data.zodError.fieldErrors)).toContain(field);
      }
      expect(seen.queries).toBe(0);
      // A surrogate pair (an emoji) is text like any other.
      expect((await mutate('mood.log', trpcInput({ score: 5, note: 'calm 😀' }))).status).not.toBe(400);
    });

    it('a body nested 100,000 levels deep → 400 that says so (not "Maximum call stack size exceeded"), no DB call', async () => {
      reset();
      const depth = 100_000;
      const res = await mutate('mood.log', `{"json":${'['.repeat(depth)}${']'.repeat(depth)}}`);
      expect(res.status).toBe(400);
      expect(res.error.message).toMatch(/nests deeper than 64 levels/);
      expect(res.body).not.toMatch(/call stack/i);
      expect(seen.queries).toBe(0);
      // Shallow input is untouched by the check.
      expect((await mutate('mood.log', trpcInput({ score: 5, tags: ['a', 'b'] }))).status).not.toBe(400);
    });

    it('41 forced DB errors → mapped 4xx or a generic 500; no SQL, params or stack to the client; redacted log', async () => {
      // A taken address answers like a free one (membership is not disclosed: docs/api.md,
      // auth.register); the unique violation behind it never reaches the client.
      const user = {
        email: 'dup41@example.com',
        password: 'a secret password 41',
        name: 'Dup',
        acceptPrivacyNotice: NOTICE,
      };
      expect((await mutate('auth.register', trpcInput(user))).status).toBe(200);
      const dup = await mutate('auth.register', trpcInput({ ...user, email: 'DUP41@example.com' }));
      expect(dup.status).toBe(200);
      expect(JSON.parse(dup.body).result.data.json).toEqual({
        email: 'dup41@example.com',
        confirmationSent: true,
      });

      // A bad UUID never reaches the database.
      reset();
      for (const therapistId of ['not-a-uuid', "1' OR '1'='1", '00000000-0000-0000-0000-00000000000g'])
        expect((await mutate('therapy.book', trpcInput({ therapistId, startsAt: new Date() }))).status).toBe(
          400,
        );
      expect(seen.queries).toBe(0);

      // Errors the code does not expect reach the database and come back generic.
      await mutate('auth.register', trpcInput({ ...user, email: 'forced41@example.com' }));
      await server.deps.db.execute(confirmRegistrationSql('forced41@example.com'));
      const signedIn = await mutate(
        'auth.login',
        trpcInput({ email: 'forced41@example.com', password: user.password }),
      );
      const realToken = JSON.parse(signedIn.body).result.data.json.accessToken as string;
      const note = 'my private diary entry 41';
      // A rule the code knows nothing about, so the database refuses what the code accepts.
      await server.deps.db.execute(
        sql.raw(`ALTER TABLE mood_entries ADD CONSTRAINT forced_41 CHECK (note IS DISTINCT FROM '${note}')`),
      );
      logLines.length = 0;
      reset();
      const forced = [
        await mutate('mood.log', trpcInput({ score: 5, note }), realToken),
        // A NUL byte Postgres cannot store in text.
        await mutate(
          'auth.register',
          trpcInput({
            email: 'nul41@example.com',
            password: 'a secret password 41',
            name: 'A\u0000B',
            acceptPrivacyNotice: NOTICE,
          }),
        ),
        // A valid token for a user that does not exist: the insert violates the foreign key
        // on the caller's own id (and shows that the query counter sees this server's statements).
        await mutate('mood.log', trpcInput({ score: 5, note: 'another entry 41' })),
      ];
      await server.deps.db.execute(sql`ALTER TABLE mood_entries DROP CONSTRAINT forced_41`);
      for (const res of forced) {
        expect(res.status >= 400 && res.status < 600, res.body).toBe(true);
        if (res.status === 500) expect(res.error.message).toBe('Internal server error');
        expect(res.body).not.toMatch(
          /insert|mood_entries|users|foreign key|violat|forced_41|0x00|byte sequence/i,
        );
        expect(res.body).not.toContain(note);
        expect(res.body).not.toContain('a secret password 41');
      }
      expect(forced[0]!.status).toBe(500);
      // NUL in text is the client's mistake: 400 with a plain message.
      expect(forced[1]!.status).toBe(400);
      expect(forced[1]!.error.message).toBe('Text must not contain NUL characters');
      // The token outlived its user: refused like a revoked one.
      expect(forced[2]!.status).toBe(401);
      expect(forced[2]!.error.data.code).toBe('UNAUTHORIZED');
      expect(seen.queries).toBeGreaterThan(0);
      // The server log has the failure, without the note, the password or the token.
      const log = logLines.join('');
      expect(log).toMatch(/procedure failed/);
      expect(log).not.toContain(note);
      expect(log).not.toContain('a secret password 41');
      expect(log).not.toContain(token);
    });
  },
);
