// Personal API keys (api_access, Enterprise): created with scopes within the owner's
// permissions and an expiry, shown once, stored as SHA-256 beside a visible prefix, and
// exchanged (auth.exchangeApiKey) for an ordinary short-lived access token whose sid is
// the key's id — so every procedure keeps zero-query auth, and revoking the key ends its
// tokens at once through the session revocation (server/auth/revocation.ts).
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { type Db, type Executor, queryRows } from '../../db/client.ts';
import { date, idRow } from '../../db/row.ts';
import { API_KEY_LIMIT, type createApiKeyInput } from '../../shared/inputs/api-keys.ts';
import { auditInsert } from '../audit.ts';
import { claimsRow, claimsSelect, issuedAt, tokenSubject } from '../auth/claims.ts';
import { type RevocationList, sessionRevocation } from '../auth/revocation.ts';
import type { AccessClaims, TokenService } from '../auth/tokens.ts';
import { exactTimestamp } from '../keyset.ts';
import { conflict, forbidden, notFound, unauthorized } from './errors.ts';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new key: `m360_<prefix>_<secret>` (the prefix is shown in lists, the secret never again). */
export function newApiKey(): { key: string; prefix: string; hash: string } {
  const prefix = [...randomBytes(8)].map((b) => BASE32[b % 32]).join('');
  const key = `m360_${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashApiKey(key) };
}

const keyColumns = sql`id, name, prefix, scopes, ${exactTimestamp(sql`created_at`)} AS created_at,
  ${exactTimestamp(sql`expires_at`)} AS expires_at, ${exactTimestamp(sql`last_used_at`)} AS last_used_at,
  ${exactTimestamp(sql`revoked_at`)} AS revoked_at`;

const keyRow = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(z.string()),
  created_at: date,
  expires_at: date,
  last_used_at: date.nullable(),
  revoked_at: date.nullable(),
});
const keyOut = (r: z.output<typeof keyRow>) => ({
  id: r.id,
  name: r.name,
  prefix: `m360_${r.prefix}`,
  scopes: r.scopes,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});
const exchangeRow = claimsRow.extend({
  key_id: z.string(),
  scopes: z.array(z.string()),
  /** api_keys.expires_at as whole epoch seconds (rounded down): the latest exp of its tokens. */
  key_expires_at: z.number(),
});

/**
 * Two statements in one transaction: the owner's row is locked (concurrent creations queue
 * up), then the key is inserted with its audit entry only while the owner has fewer than
 * API_KEY_LIMIT live keys. Scopes beyond the caller's permissions are refused first, from
 * the token (zero queries).
 */
export async function createApiKey(
  db: Db,
  caller: Pick<AccessClaims, 'sub' | 'permissions'>,
  ip: string,
  input: z.infer<typeof createApiKeyInput>,
) {
  const beyond = input.scopes.find((s) => !caller.permissions.includes(s));
  if (beyond)
    throw forbidden('missing_permission', beyond, `The key cannot have ${beyond}: you do not have it`);
  const { key, prefix, hash } = newApiKey();
  const row = await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT 1 FROM users WHERE id = ${caller.sub} FOR UPDATE`);
    const [inserted] = await queryRows(
      tx,
      keyRow,
      sql`WITH k AS (
            INSERT INTO api_keys (user_id, name, prefix, token_hash, scopes, expires_at)
            SELECT ${caller.sub}, ${input.name}, ${prefix}, ${hash}, ${sql`ARRAY[${sql.join(
              input.scopes.map((s) => sql`${s}`),
              sql`, `,
            )}]::text[]`}, now() + make_interval(days => ${input.expiresInDays}::int)
            WHERE (SELECT count(*) FROM api_keys
                   WHERE user_id = ${caller.sub} AND revoked_at IS NULL AND expires_at > now()) < ${API_KEY_LIMIT}
            RETURNING *
          ), a AS (
            ${auditInsert({ actorId: caller.sub, action: 'apiKeys.create', targetId: caller.sub, ip, details: sql`jsonb_build_object('keyId', id, 'prefix', prefix, 'scopes', scopes)` }, sql`k`)}
          )
          SELECT ${keyColumns} FROM k`,
    );
    return inserted;
  });
  if (!row) throw conflict(`You already have ${API_KEY_LIMIT} live API keys; revoke one first`);
  return { ...keyOut(row), key };
}

/** The caller's keys, newest first (at most 100): one SELECT. Never the hash. */
export async function listApiKeys(db: Executor, userId: string) {
  const rows = await queryRows(
    db,
    keyRow,
    sql`SELECT ${keyColumns} FROM api_keys WHERE user_id = ${userId} ORDER BY created_at DESC, id DESC LIMIT 100`,
  );
  return rows.map(keyOut);
}

/**
 * One statement (the revocation with its audit entry), then the announcement: the key's
 * access tokens die on every instance at once.
 */
export async function revokeApiKey(
  deps: { db: Executor; revocations: RevocationList; tokens: TokenService },
  userId: string,
  ip: string,
  keyId: string,
) {
  const [row] = await queryRows(
    deps.db,
    idRow,
    sql`WITH k AS (
          UPDATE api_keys SET revoked_at = now() WHERE id = ${keyId} AND user_id = ${userId} AND revoked_at IS NULL
          RETURNING id, prefix
        ), a AS (
          ${auditInsert({ actorId: userId, action: 'apiKeys.revoke', targetId: userId, ip, details: sql`jsonb_build_object('keyId', id, 'prefix', prefix)` }, sql`k`)}
        )
        SELECT id FROM k`,
  );
  if (!row) throw notFound('Live API key');
  await deps.revocations.announce(sessionRevocation(keyId, deps.tokens.ttlSeconds));
  return { ok: true as const };
}

/**
 * auth.exchangeApiKey: ONE statement finds the live key, records its use (last_used_at and
 * an audit entry) and reads the owner's current claims. The token carries the key's scopes
 * that the owner still has, the owner's current features, the key's id as its sid, and the
 * key's grant (scopes, expiry: server/auth/tokens.ts), so it expires no later than the key
 * and what re-issues it keeps the same bounds.
 */
export async function exchangeApiKey(
  deps: { db: Executor; tokens: TokenService },
  apiKey: string,
  ip: string,
) {
  const [row] = await queryRows(
    deps.db,
    exchangeRow,
    sql`WITH k AS (
          UPDATE api_keys SET last_used_at = now()
          WHERE token_hash = ${hashApiKey(apiKey)} AND revoked_at IS NULL AND expires_at > now()
          RETURNING id, user_id, scopes, expires_at
        ), a AS (
          ${auditInsert({ actorId: sql`user_id`, action: 'auth.exchangeApiKey', targetId: sql`user_id`, ip, details: sql`jsonb_build_object('keyId', id)` }, sql`k`)}
        )
        ${claimsSelect(sql`k JOIN users u ON u.id = k.user_id`, sql`, k.id AS key_id, k.scopes AS scopes, floor(extract(epoch FROM k.expires_at))::float8 AS key_expires_at`)}
        WHERE u.deleted_at IS NULL`,
  );
  if (!row) throw unauthorized('Invalid, expired or revoked API key');
  if (row.status !== 'active') throw forbidden('account_suspended');
  // A plan that lost api_access stops its keys at the next exchange.
  if (!row.features.includes('api_access')) throw forbidden('missing_feature', 'api_access');
  // The key's scopes that the owner still has; no later than the key expires.
  const { token, claims } = await deps.tokens.sign(tokenSubject(row), row.key_id, issuedAt(row), {
    scopes: row.scopes,
    expiresAt: row.key_expires_at,
  });
  if (claims.exp <= claims.iat) throw unauthorized('Invalid, expired or revoked API key');
  return { accessToken: token, expiresIn: claims.exp - claims.iat, keyId: row.key_id };
}
