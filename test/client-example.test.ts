// The typed client example (examples/client.ts) against the real server: it must carry no
// server code, log in, refresh once on UNAUTHORIZED, retry a mutation whose answer was lost
// with its Idempotency-Key (one row), and turn missing_feature into an upgrade hint.
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { sql } from 'drizzle-orm';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { createApiClient, main } from '../examples/client.ts';
import { issueToken, VERIFY_EMAIL_TTL_SECONDS } from '../server/domain/email-tokens.ts';
import { loginAccepted, startTestServer, type TestServer } from './server.ts';

const EXAMPLE = new URL('../examples/client.ts', import.meta.url);
const PASSWORD = 'a long enough password';
const ADMIN = { email: 'root@example.com', password: 'a superadmin password' };

describe('examples/client.ts', () => {
  it('pulls no project code into a client bundle: only @trpc/client and superjson at run time', () => {
    const source = readFileSync(EXAMPLE, 'utf8');
    // What a bundler sees: TypeScript's own output, where `import type` is erased.
    const js = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
    }).outputText;
    const runtimeImports = [...js.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*from\s*['"]([^'"]+)['"]/g)].map(
      (m) => m[1],
    );
    const dynamicImports = [...js.matchAll(/import\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(dynamicImports).toEqual([]);
    expect(runtimeImports.sort()).toEqual(['@trpc/client', 'superjson']);
    // And the project import is the one type-only entry clients are given.
    const projectImports = [...source.matchAll(/from\s*['"](\.[^'"]+)['"]/g)].map((m) => m[1]);
    expect(projectImports).toEqual(['../shared/index.ts']);
    expect(source).toMatch(/import type \{[^}]*\} from '\.\.\/shared\/index\.ts'/);
  });

  describe('against a real server', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer({ env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } });
    });
    afterAll(async () => {
      await server?.close();
    });

    /**
     * The user opening the link emailed at registration: a confirmation token as the email
     * carries it (issued as the registration's is; the email itself: account-email.test.ts).
     */
    async function confirmationLink(email: string): Promise<string> {
      const [user] = await queryRows(
        server.deps.db,
        z.object({ id: z.string() }),
        sql`SELECT id FROM users WHERE email = ${email} AND status = 'pending'`,
      );
      return issueToken(server.deps.db, user!.id, 'verify_email', email, VERIFY_EMAIL_TTL_SECONDS);
    }

    /** The example client signed up as a user does: register, the emailed link, login. */
    async function signUp(client: ReturnType<typeof createApiClient>, email: string) {
      expect(await client.register(email, PASSWORD, 'R')).toEqual({ email, confirmationSent: true });
      await client.confirm(await confirmationLink(email));
      return client.login(email, PASSWORD);
    }

    it('signs up, shows who it is and turns missing_feature into "upgrade to Basic"', async () => {
      const lines: string[] = [];
      const result = await main(server.url, {
        email: 'walkthrough@example.com',
        password: PASSWORD,
        print: (l) => lines.push(l),
        confirmationLink,
      });
      expect(result.me.email).toBe('walkthrough@example.com');
      expect(result.me.plan).toBe('free');
      expect(result.hint).toMatch(/^upgrade to Basic \(₹499\/month\) to use therapist_booking$/);
      expect(lines.slice(0, 2)).toEqual([
        'registered walkthrough@example.com: confirm with the link emailed to it',
        'confirmed and logged in as walkthrough@example.com',
      ]);
      // A second run finds the account and logs in instead.
      const again = await main(server.url, {
        email: 'walkthrough@example.com',
        password: PASSWORD,
        print: (l) => lines.push(l),
      });
      expect(again.me.id).toBe(result.me.id);
      expect(lines).toContain('logged in as walkthrough@example.com');
    });

    it('retries a mutation whose answer was lost (connection cut after the COMMIT) with its Idempotency-Key: one row', async () => {
      // A proxy that cuts the first answer to a mutation at its first byte (the server has
      // committed), and passes everything else.
      const target = new URL(server.url);
      let cut = 0;
      const sockets = new Set<Socket>();
      const proxy: Server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        sockets.add(client).add(upstream);
        let mutation = false;
        client.on('data', (chunk: Buffer) => {
          if (chunk.toString('latin1').startsWith('POST /trpc/mood.log')) mutation = true;
          upstream.write(chunk);
        });
        upstream.on('data', (chunk: Buffer) => {
          if (mutation && cut === 0) {
            cut += 1;
            client.destroy();
            upstream.destroy();
            return;
          }
          client.write(chunk);
        });
        client.on('end', () => upstream.end());
        upstream.on('end', () => client.end());
        client.on('error', () => {});
        upstream.on('error', () => {});
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      try {
        const client = createApiClient(`http://127.0.0.1:${(proxy.address() as { port: number }).port}`);
        const user = await signUp(client, 'retrier@example.com');
        const entry = await client.api.mood.log.mutate({ score: 7 });
        expect(cut).toBe(1); // the first answer was lost; the retry got the stored one
        const rows = await queryRows(
          server.deps.db,
          z.object({ id: z.string() }),
          sql`SELECT id FROM mood_entries WHERE user_id = ${user.id}`,
        );
        expect(rows.map((r) => r.id)).toEqual([entry.id]);
      } finally {
        for (const s of sockets) s.destroy(); // keep-alive connections would hold close() open
        await new Promise((r) => proxy.close(r));
      }
    });

    it('refreshes once on UNAUTHORIZED and retries the call', async () => {
      const client = createApiClient(server.url);
      const user = await signUp(client, 'refresher@example.com');
      const firstRefresh = client.session.refreshToken;
      // The access token dies (as after expiry); the refresh token still works.
      client.session.accessToken = 'expired.or.revoked';
      const me = await client.api.auth.me.query();
      expect(me.id).toBe(user.id);
      expect(client.refreshes).toBe(1);
      expect(client.session.refreshToken).not.toBe(firstRefresh); // rotated
      // Several calls failing together share one refresh.
      client.session.accessToken = 'expired.or.revoked';
      const both = await Promise.all([client.api.auth.me.query(), client.api.subscriptions.current.query()]);
      expect(both[0].id).toBe(user.id);
      expect(client.refreshes).toBe(2);
    });

    it('after an admin upgrades the plan, refreshes silently into the new claims', async () => {
      const client = createApiClient(server.url);
      const user = await signUp(client, 'upgraded@example.com');
      expect((await client.api.auth.me.query()).plan).toBe('free');
      // The admin signs in with a second factor (the test's passkey helper; the example
      // client is a patient's).
      const admin = server.client(await loginAccepted(server, ADMIN));
      await admin.admin.users.setPlan.mutate({ userId: user.id, planCode: 'basic' });
      // The old access token died with the plan change; the client refreshes and retries.
      const me = await client.api.auth.me.query();
      expect(me.plan).toBe('basic');
      expect(me.features).toContain('therapist_booking');
      expect(client.refreshes).toBe(1);
    });

    it('surfaces UNAUTHORIZED when the session itself is over', async () => {
      const client = createApiClient(server.url);
      await signUp(client, 'ended@example.com');
      await client.api.auth.logoutAll.mutate();
      await expect(client.api.auth.me.query()).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
      expect(client.session).toEqual({ accessToken: null, refreshToken: null });
      expect(client.refreshes).toBe(0);
    });
  });
});
