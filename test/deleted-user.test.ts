// A token whose user is gone counts for nothing: a user deleted in SQL (soft, deleted_at;
// or a hard DELETE) is revoked like admin.users.revokeSessions (the database records it and
// every instance loads it from Postgres), and a write for a user this database never had
// answers UNAUTHORIZED instead of a foreign-key 500. No query is added to authentication.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRevocations, RevocationList, startRevocationSync } from '../server/auth/revocation.ts';
import { appRouter } from '../server/routers/index.ts';
import { procedures } from '../server/trpc/invoke.ts';
import { tokenFor } from './faults/support.ts';
import { NOTICE } from './helpers.ts';
import { registerUser, startTestServer, type TestServer, trpcInput } from './server.ts';
import { scaled } from './support/load.ts';

const PASSWORD = 'a long password';

describe('the token of a deleted or missing user', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  /** One procedure over HTTP: GET for queries, POST for mutations; status and error code. */
  async function call(path: string, token: string | undefined, input: unknown = {}) {
    const type = procedures(appRouter).find((p) => p.path === path)!.type;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const res =
      type === 'query'
        ? await fetch(`${server.url}/trpc/${path}?input=${encodeURIComponent(trpcInput(input))}`, { headers })
        : await fetch(`${server.url}/trpc/${path}`, {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: trpcInput(input),
          });
    const body = (await res.json()) as { error?: { json: { data: { code: string } } } };
    return { status: res.status, code: body.error?.json.data.code ?? 'OK' };
  }
  const register = (name: string) =>
    registerUser(server, {
      email: `${name}.${randomUUID()}@example.com`,
      password: PASSWORD,
      name,
      acceptPrivacyNotice: NOTICE,
    });
  /** What the instance's periodic resync does (every 30 s; tests do not wait for it). */
  const resync = () =>
    loadRevocations(server.deps.db, server.deps.revocations, server.deps.config.ACCESS_TOKEN_TTL_SECONDS);

  it('is refused on writes and profile reads when this database never had the user (no 500)', async () => {
    const token = await tokenFor(server.deps, randomUUID(), {
      permissions: ['mood.write', 'profile.read', 'profile.update', 'assessments.submit'],
      features: ['mood_tracking', 'assessments'],
    });
    expect(await call('mood.log', token, { score: 5 })).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    expect(
      await call('assessments.submit', token, { instrument: 'GAD7', answers: [0, 0, 0, 0, 0, 0, 0] }),
    ).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    expect(await call('users.profile', token)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    expect(await call('users.updateProfile', token, { name: 'Ghost' })).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
    });
  });

  it('counts for nothing on any procedure once the user is soft-deleted, and cannot be refreshed', async () => {
    const user = await register('Soft');
    expect((await call('users.profile', user.accessToken)).status).toBe(200);
    await server.deps.db.execute(sql`UPDATE users SET deleted_at = now() WHERE id = ${user.user.id}`);
    await resync();
    // Queries and mutations (a subscription refuses in its event stream: crisis-live.test.ts).
    const paths = procedures(appRouter)
      .filter((p) => p.type !== 'subscription')
      .map((p) => p.path);
    const refused = [];
    for (const path of paths) {
      const withToken = await call(path, user.accessToken);
      // The token is worth exactly as much as no token at all.
      expect(withToken, path).toEqual(await call(path, undefined));
      if (withToken.code === 'UNAUTHORIZED') refused.push(path);
    }
    expect(refused.length).toBeGreaterThan(paths.length / 2);
    expect(refused).toContain('auth.me');
    expect(await call('auth.refresh', undefined, { refreshToken: user.refreshToken })).toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });

  it('is refused once the user row is deleted, even where no row is read (auth.me)', async () => {
    const user = await register('Hard');
    expect((await call('auth.me', user.accessToken)).status).toBe(200);
    await server.deps.db.execute(sql`DELETE FROM users WHERE id = ${user.user.id}`);
    await resync();
    expect(await call('auth.me', user.accessToken)).toEqual({ status: 401, code: 'UNAUTHORIZED' });
  });

  it('reaches an instance without Redis at its next resync', async () => {
    const user = await register('Resync');
    const claims = await server.deps.tokens.verify(user.accessToken);
    const list = new RevocationList();
    const stop = await startRevocationSync({
      list,
      db: server.deps.db,
      accessTtlSeconds: server.deps.config.ACCESS_TOKEN_TTL_SECONDS,
      log: server.deps.log,
      redis: undefined,
      channel: 'unused',
      resyncIntervalMs: 50,
    });
    try {
      expect(list.isRevoked(claims)).toBe(false);
      await server.deps.db.execute(sql`UPDATE users SET deleted_at = now() WHERE id = ${user.user.id}`);
      const deadline = Date.now() + scaled(5000);
      while (!list.isRevoked(claims) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(list.isRevoked(claims)).toBe(true);
    } finally {
      await stop();
    }
  });
});
