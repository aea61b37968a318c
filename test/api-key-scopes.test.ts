// A token that descends from an API key never carries more than the key: every procedure
// is called with a narrow key's token (tRPC and REST) and only those the key's scopes name,
// or whose .meta({ apiKey }) lets keys in, answer; whatever re-issues a token keeps the
// key's scopes, session id and expiry; a key token never outlives its key. All of it from
// the token's claims (zero queries).
import { sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { acceptNotice } from '../server/domain/privacy.ts';
import { appRouter } from '../server/routers/index.ts';
import { policyRows } from '../server/trpc/policy.ts';
import { type Account, ADMIN_ENV, account, failure, PASSWORD, serverQueries } from './accounts.ts';
import { NOTICE } from './helpers.ts';
import { bearer, startTestServer, type TestServer } from './server.ts';

/** What a key scoped to mood.read may call besides public procedures (hand-written, not read from .meta). */
const MOOD_READ_KEY_MAY_CALL = ['auth.me', 'mood.list', 'therapists.list'];

describe('API key scopes', () => {
  let server: TestServer;
  let owner: Account;
  let keyId: string;
  let keyToken: string;
  beforeAll(async () => {
    server = await startTestServer({ env: ADMIN_ENV });
    owner = await account(server, 'enterprise', 'patient', { factor: true });
    const key = await owner.api.apiKeys.create.mutate({ name: 'mood', scopes: ['mood.read'] });
    keyId = key.id;
    keyToken = (await server.client().auth.exchangeApiKey.mutate({ apiKey: key.key })).accessToken;
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A raw /trpc call (superjson body), as any client may send it. */
  async function trpc(token: string, path: string, type: string, input: unknown = {}) {
    const json = JSON.stringify({ json: input });
    const res =
      type === 'query'
        ? await fetch(`${server.url}/trpc/${path}?input=${encodeURIComponent(json)}`, {
            headers: bearer(token),
          })
        : await fetch(`${server.url}/trpc/${path}`, {
            method: 'POST',
            headers: { ...bearer(token), 'content-type': 'application/json' },
            body: json,
          });
    const text = await res.text();
    const body = text.startsWith('{')
      ? (JSON.parse(text) as { error?: { json?: { data?: { reason?: string } } } })
      : {};
    return { status: res.status, reason: body.error?.json?.data?.reason, text };
  }

  it('every procedure: a mood.read key token reaches only what its scope names (zero queries to refuse)', async () => {
    const reached: string[] = [];
    for (const { path, type, meta } of policyRows(appRouter)) {
      if (meta?.auth !== 'user' || type === 'subscription') continue;
      const { result, queries } = await serverQueries(() => trpc(keyToken, path, type));
      const refused = result.status === 403;
      if (refused) {
        expect(['api_key_not_allowed', 'missing_permission', 'missing_feature'], path).toContain(
          result.reason,
        );
        expect(queries, path).toBe(0);
      } else reached.push(path);
    }
    expect(reached.sort()).toEqual(MOOD_READ_KEY_MAY_CALL);
  });

  it('privacy.acceptNotice and the sign-in-only procedures refuse a key token, over tRPC and REST', async () => {
    const viaKey = server.client(keyToken);
    for (const call of [
      () => viaKey.privacy.acceptNotice.mutate({ version: NOTICE }),
      () =>
        viaKey.auth.changePassword.mutate({
          currentPassword: PASSWORD,
          newPassword: 'another long password',
        }),
      () => viaKey.auth.logoutAll.mutate(),
      () => viaKey.privacy.cancelDeletion.mutate(),
      () => viaKey.privacy.accessLog.query({}),
      () => viaKey.subscriptions.checkout.mutate({ planCode: 'premium' }),
    ])
      expect((await failure(call())).data).toMatchObject({
        code: 'FORBIDDEN',
        reason: 'api_key_not_allowed',
      });

    for (const [path, body] of [
      ['/api/privacy/acceptNotice', { version: NOTICE }],
      ['/api/auth/changePassword', { currentPassword: PASSWORD, newPassword: 'another long password' }],
      ['/api/auth/logoutAll', {}],
      ['/api/therapy/cancel', { sessionId: '00000000-0000-4000-8000-000000000000' }],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { ...bearer(keyToken), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      expect(res.status, path).toBe(403);
      expect(text, path).not.toContain('accessToken');
    }
    const me = await fetch(`${server.url}/api/auth/me`, { headers: bearer(keyToken) });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { permissions: string[] }).permissions).toEqual(['mood.read']);
    // The owner's own session still works, and still has every permission.
    expect((await owner.api.auth.me.query()).permissions.length).toBeGreaterThan(5);
  });

  it('re-issuing a token from a key token (privacy.acceptNotice) keeps the scopes, the key as session, the expiry cap', async () => {
    const claims = await server.deps.tokens.verify(keyToken);
    const reissued = await acceptNotice(server.deps, claims, NOTICE, '127.0.0.1');
    const next = await server.deps.tokens.verify(reissued.accessToken);
    expect(next.permissions).toEqual(['mood.read']);
    expect(next.sid).toBe(keyId);
    expect(next.apiKey).toEqual(claims.apiKey);
    expect(next.exp).toBeLessThanOrEqual(claims.apiKey!.expiresAt);
    // A second hop from the re-issued token is no wider either.
    const again = await server.deps.tokens.verify(
      (await acceptNotice(server.deps, next, NOTICE, '127.0.0.1')).accessToken,
    );
    expect(again.permissions).toEqual(['mood.read']);
    expect(again.sid).toBe(keyId);
    // ...and it dies with the key.
    await owner.api.apiKeys.revoke.mutate({ keyId });
    expect((await failure(server.client(reissued.accessToken).auth.me.query())).data?.code).toBe(
      'UNAUTHORIZED',
    );
  });

  it("a therapist's sessions.read key (calendar sync) reads the calendar and nothing clinical", async () => {
    const therapist = await account(server, 'enterprise', 'therapist');
    const key = await therapist.api.apiKeys.create.mutate({ name: 'calendar', scopes: ['sessions.read'] });
    const token = (await server.client().auth.exchangeApiKey.mutate({ apiKey: key.key })).accessToken;
    const viaKey = server.client(token);
    expect(await viaKey.therapy.mine.query({})).toMatchObject({ items: [] });
    expect((await failure(viaKey.privacy.acceptNotice.mutate({ version: NOTICE }))).data).toMatchObject({
      reason: 'api_key_not_allowed',
    });
    const rest = await fetch(`${server.url}/api/privacy/acceptNotice`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ version: NOTICE }),
    });
    expect(rest.status).toBe(403);
    expect((await failure(viaKey.crisis.list.query({}))).data).toMatchObject({
      reason: 'missing_permission',
    });
    const reissued = await acceptNotice(
      server.deps,
      await server.deps.tokens.verify(token),
      NOTICE,
      '127.0.0.1',
    );
    const claims = await server.deps.tokens.verify(reissued.accessToken);
    expect(claims.permissions).toEqual(['sessions.read']);
    expect(claims.sid).toBe(key.id);
  });

  it('a key token expires no later than the key', async () => {
    const key = await owner.api.apiKeys.create.mutate({ name: 'short', scopes: ['mood.read'] });
    await server.deps.db.execute(
      sql`UPDATE api_keys SET expires_at = now() + interval '60 seconds' WHERE id = ${key.id}`,
    );
    const [row] = await queryRows(
      server.deps.db,
      z.object({ at: z.number() }),
      sql`SELECT extract(epoch FROM expires_at)::float8 AS at FROM api_keys WHERE id = ${key.id}`,
    );
    const { accessToken } = await server.client().auth.exchangeApiKey.mutate({ apiKey: key.key });
    const exp = decodeJwt(accessToken).exp!;
    expect(exp).toBeLessThanOrEqual(Math.ceil(row!.at));
    expect(exp).toBeGreaterThan(Date.now() / 1000);
  });
});
