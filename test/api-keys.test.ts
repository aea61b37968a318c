// apiKeys.* and auth.exchangeApiKey over HTTP: the Enterprise gate, keys shown once and
// stored hashed, scopes within the owner's permissions, the exchange for an ordinary
// access token (zero-query auth afterwards), last use, expiry, revocation that ends the key's
// tokens at once (and survives a restart), the live-key limit under concurrency, the
// exchange rate limit, audit entries and strict inputs.
import type { TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { loadRevocations, RevocationList } from '../server/auth/revocation.ts';
import type { AppRouter } from '../shared/index.ts';
import { API_KEY_LIMIT, API_KEY_PATTERN } from '../shared/inputs/api-keys.ts';
import { type Account, ADMIN_ENV, account, adminAccount, failure, serverQueries } from './accounts.ts';
import { DB_KINDS } from './helpers.ts';
import { startTestServer, type TestServer } from './server.ts';

describe('API keys', () => {
  let server: TestServer;
  let me: Account;
  beforeAll(async () => {
    // Real PostgreSQL when the run has it: the live-key limit is a concurrency property.
    server = await startTestServer({ env: ADMIN_ENV, kind: DB_KINDS.at(-1) });
    me = await account(server, 'enterprise', 'patient', { factor: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  const keyRows = (userId: string) =>
    queryRows(
      server.deps.db,
      z.object({ token_hash: z.string(), prefix: z.string() }),
      sql`SELECT token_hash, prefix FROM api_keys WHERE user_id = ${userId}`,
    );
  const auditActions = async (userId: string) =>
    (
      await queryRows(
        server.deps.db,
        z.object({ action: z.string() }),
        sql`SELECT action FROM audit_log WHERE actor_id = ${userId} ORDER BY id`,
      )
    ).map((r) => r.action);

  it('is refused below Enterprise (missing_feature) without a query', async () => {
    const premium = await account(server, 'premium');
    const { result, queries } = await serverQueries(() =>
      failure(premium.api.apiKeys.create.mutate({ name: 'ci', scopes: ['mood.read'] })),
    );
    expect(result.data).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'missing_feature',
      required: 'api_access',
    });
    expect(queries).toBe(0);
    expect(await keyRows(premium.id)).toEqual([]);
  });

  it('create shows the key once, stores only its hash; exchange gives a scoped token; revoke ends it at once', async () => {
    const { result: created, queries } = await serverQueries(() =>
      me.api.apiKeys.create.mutate({
        name: 'reporting',
        scopes: ['profile.read', 'mood.read'],
        expiresInDays: 30,
      }),
    );
    expect(queries).toBe(2); // lock the owner, insert with the audit entry
    expect(created.key).toMatch(API_KEY_PATTERN);
    expect(created.key.startsWith(`${created.prefix}_`)).toBe(true);
    expect(created.scopes).toEqual(['mood.read', 'profile.read']);
    expect(created.expiresAt.getTime() - Date.now()).toBeGreaterThan(29.9 * 86_400_000);
    const [stored] = await keyRows(me.id);
    expect(stored!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const everyKey = await queryRows(
      server.deps.db,
      z.record(z.string(), z.unknown()),
      sql`SELECT * FROM api_keys`,
    );
    expect(JSON.stringify(everyKey)).not.toContain(created.key.slice(-43));

    const { result: listed, queries: listQueries } = await serverQueries(() => me.api.apiKeys.list.query());
    expect(listQueries).toBe(1);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: created.id,
      prefix: created.prefix,
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const { result: exchanged, queries: exchangeQueries } = await serverQueries(() =>
      server.client().auth.exchangeApiKey.mutate({ apiKey: created.key }),
    );
    expect(exchangeQueries).toBe(1);
    expect(exchanged.keyId).toBe(created.id);
    const viaKey = server.client(exchanged.accessToken);
    const who = await serverQueries(() => viaKey.auth.me.query());
    expect(who.queries).toBe(0);
    expect(who.result).toMatchObject({ id: me.id, sessionId: created.id, plan: 'enterprise' });
    expect(who.result.permissions).toEqual(['mood.read', 'profile.read']);
    expect((await viaKey.mood.list.query()).items).toEqual([]);
    expect((await failure(viaKey.mood.log.mutate({ score: 5 }))).data).toMatchObject({
      reason: 'missing_permission',
      required: 'mood.write',
    });
    expect((await me.api.apiKeys.list.query())[0]!.lastUsedAt).toBeInstanceOf(Date);

    const { queries: revokeQueries } = await serverQueries(() =>
      me.api.apiKeys.revoke.mutate({ keyId: created.id }),
    );
    expect(revokeQueries).toBe(1);
    expect((await failure(viaKey.auth.me.query())).data?.code).toBe('UNAUTHORIZED');
    expect(
      (await failure(server.client().auth.exchangeApiKey.mutate({ apiKey: created.key }))).data?.code,
    ).toBe('UNAUTHORIZED');
    // The owner's own session is untouched.
    expect((await me.api.auth.me.query()).id).toBe(me.id);
    // A restarted instance learns the revocation from Postgres.
    const fresh = new RevocationList();
    await loadRevocations(server.deps.db, fresh, server.deps.config.ACCESS_TOKEN_TTL_SECONDS);
    expect(fresh.isRevoked({ sub: me.id, sid: created.id, iat: Math.floor(Date.now() / 1000) })).toBe(true);

    expect(await auditActions(me.id)).toEqual(
      expect.arrayContaining(['apiKeys.create', 'auth.exchangeApiKey', 'apiKeys.revoke']),
    );
  });

  it("scopes beyond the owner's permissions are refused, nothing stored", async () => {
    const owner = await account(server, 'enterprise', 'patient', { factor: true });
    const err = await failure(
      owner.api.apiKeys.create.mutate({ name: 'admin', scopes: ['mood.read', 'users.read'] }),
    );
    expect(err.data).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'missing_permission',
      required: 'users.read',
    });
    expect(await keyRows(owner.id)).toEqual([]);
  });

  it('refuses bad input with 400 and stores nothing', async () => {
    const owner = await account(server, 'enterprise', 'patient', { factor: true });
    for (const call of [
      () => owner.api.apiKeys.create.mutate({ name: '', scopes: ['mood.read'] }),
      () => owner.api.apiKeys.create.mutate({ name: 'x', scopes: [] }),
      () => owner.api.apiKeys.create.mutate({ name: 'x', scopes: ['api_keys.manage'] }),
      () => owner.api.apiKeys.create.mutate({ name: 'x', scopes: ['everything' as 'mood.read'] }),
      () => owner.api.apiKeys.create.mutate({ name: 'x', scopes: ['mood.read'], expiresInDays: 366 }),
      () => owner.api.apiKeys.create.mutate({ name: 'x', scopes: ['mood.read'], owner: 'me' } as never),
      () => owner.api.apiKeys.revoke.mutate({ keyId: 'nope' }),
      () => server.client().auth.exchangeApiKey.mutate({ apiKey: 'm360_short' }),
    ])
      expect((await failure(call())).data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect(await keyRows(owner.id)).toEqual([]);
  });

  it(`holds the ${API_KEY_LIMIT}-live-key limit under concurrent creation`, async () => {
    const owner = await account(server, 'enterprise', 'patient', { factor: true });
    const results = await Promise.allSettled(
      // One client each: separate HTTP requests, not one batch.
      Array.from({ length: API_KEY_LIMIT * 4 }, (_, i) =>
        server.client(owner.token).apiKeys.create.mutate({ name: `k${i}`, scopes: ['mood.read'] }),
      ),
    );
    // Each creation waits on the owner's row lock holding a pooled connection: on a loaded
    // machine some requests may find the pool busy (503) instead; none may exceed the limit.
    const codes = results.flatMap((r) =>
      r.status === 'rejected' ? [(r.reason as TRPCClientError<AppRouter>).data?.code] : [],
    );
    expect(codes.filter((c) => c !== 'CONFLICT' && c !== 'SERVICE_UNAVAILABLE')).toEqual([]);
    expect(codes).toContain('CONFLICT');
    const created = results.filter((r) => r.status === 'fulfilled').length;
    expect(created).toBeLessThanOrEqual(API_KEY_LIMIT);
    expect(await keyRows(owner.id)).toHaveLength(created);
  });

  it('a plan without api_access stops its keys at the next exchange', async () => {
    const owner = await account(server, 'enterprise', 'patient', { factor: true });
    const { key } = await owner.api.apiKeys.create.mutate({ name: 'x', scopes: ['mood.read'] });
    await (await adminAccount(server)).api.admin.users.setPlan.mutate({
      userId: owner.id,
      planCode: 'premium',
    });
    expect((await failure(server.client().auth.exchangeApiKey.mutate({ apiKey: key }))).data).toMatchObject({
      reason: 'missing_feature',
      required: 'api_access',
    });
  });

  it('an expired key is refused at the exchange, its use not recorded', async () => {
    const owner = await account(server, 'enterprise', 'patient', { factor: true });
    const { key, id } = await owner.api.apiKeys.create.mutate({ name: 'short-lived', scopes: ['mood.read'] });
    const lastUse = async () =>
      (
        await queryRows(
          server.deps.db,
          z.object({ used: z.boolean() }),
          sql`SELECT last_used_at IS NOT NULL AS used FROM api_keys WHERE id = ${id}`,
        )
      )[0]!.used;
    // It expires a second ago: not revoked, the owner still on Enterprise.
    await server.deps.db.execute(
      sql`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = ${id}`,
    );
    const refused = await failure(server.client().auth.exchangeApiKey.mutate({ apiKey: key }));
    expect(refused.data?.code).toBe('UNAUTHORIZED');
    expect(refused.message).toBe('Invalid, expired or revoked API key');
    expect(await lastUse()).toBe(false);
    expect(await auditActions(owner.id)).not.toContain('auth.exchangeApiKey');
    // The same key an hour before its end exchanges (so the refusal above was the expiry).
    await server.deps.db.execute(
      sql`UPDATE api_keys SET expires_at = now() + interval '1 hour' WHERE id = ${id}`,
    );
    expect((await server.client().auth.exchangeApiKey.mutate({ apiKey: key })).keyId).toBe(id);
    expect(await lastUse()).toBe(true);
  });

  it('limits exchanges per IP (30 a minute), even for unknown keys', async () => {
    const unknown = `m360_abcdefgh_${'A'.repeat(43)}`;
    const anon = server.client();
    const codes: string[] = [];
    for (let i = 0; i < 31; i += 1)
      codes.push((await failure(anon.auth.exchangeApiKey.mutate({ apiKey: unknown }))).data?.code ?? '');
    // Earlier tests used some of this minute's allowance too.
    expect(codes.at(-1)).toBe('TOO_MANY_REQUESTS');
    expect(codes.filter((c) => c === 'UNAUTHORIZED').length).toBeLessThanOrEqual(30);
  });
});
