import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacKeyRing } from '../server/auth/keys.ts';
import { InvalidTokenError, TokenService } from '../server/auth/tokens.ts';
import { bearerToken } from '../server/trpc/context.ts';
import { SAMPLE_SUBJECT } from './fixtures/domain.ts';

/** A TokenService whose key lookups (one per signature check) are counted. */
function countingService(cacheSize?: number) {
  const keys = hmacKeyRing(randomBytes(32).toString('hex'));
  let lookups = 0;
  const real = keys.verification;
  keys.verification = new Map(real);
  const get = keys.verification.get.bind(keys.verification);
  keys.verification.get = (kid: string) => {
    lookups += 1;
    return get(kid);
  };
  const service = new TokenService({
    keys,
    issuer: 'manas360',
    audience: 'manas360-api',
    ttlSeconds: 900,
    cacheSize,
  });
  return { service, lookups: () => lookups };
}

describe('verified-token cache', () => {
  it('checks the signature of a fresh token once when many requests bring it at the same time', async () => {
    const { service, lookups } = countingService();
    const { token } = await service.sign(SAMPLE_SUBJECT, randomUUID());
    const results = await Promise.all(Array.from({ length: 20 }, () => service.verify(token)));
    expect(new Set(results.map((c) => c.sub))).toEqual(new Set([SAMPLE_SUBJECT.id]));
    expect(lookups()).toBe(1);
    await service.verify(token);
    expect(lookups()).toBe(1);
    expect(service.cacheStats.hits).toBe(1);
  });

  it('rejects every concurrent request with a bad token, and caches nothing for it', async () => {
    const { service, lookups } = countingService();
    const { token } = await service.sign(SAMPLE_SUBJECT, randomUUID());
    const tampered = `${token.slice(0, -4)}AAAA`;
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => service.verify(tampered)));
    for (const r of results)
      expect(r.status === 'rejected' && r.reason instanceof InvalidTokenError).toBe(true);
    await expect(service.verify(tampered)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(lookups()).toBe(2);
  });

  it("never serves a cached token's claims to another token with the same signature", async () => {
    const { service, lookups } = countingService();
    const { token } = await service.sign(SAMPLE_SUBJECT, randomUUID());
    await service.verify(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${signature}`;
    await expect(service.verify(forged)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(lookups()).toBe(2);
    // The genuine token is still cached.
    expect((await service.verify(token)).role).toBe(SAMPLE_SUBJECT.role);
    expect(lookups()).toBe(2);
  });

  it('verifies every time when the cache is off', async () => {
    const { service, lookups } = countingService(0);
    const { token } = await service.sign(SAMPLE_SUBJECT, randomUUID());
    await service.verify(token);
    await service.verify(token);
    expect(lookups()).toBe(2);
  });
});

describe('Authorization header', () => {
  it('reads the token as /^Bearer ([^\\s]+)$/i does', () => {
    const samples = [
      'Bearer abc.def.ghi',
      'bearer abc',
      'BEARER abc',
      'BeArEr a',
      'Bearer ',
      'Bearer',
      'Bearer  abc',
      'Bearer abc def',
      'Bearer abc\t',
      'Bearer abc\u00a0',
      'Bearer\tabc',
      'Basic abc',
      'Bearerabc',
      'xBearer abc',
      'Bearer abc\n',
      'Bearer \u2028abc',
      'Bearer ÿ',
      'Bearer é.ü',
      '',
    ];
    for (const header of samples)
      expect([header, bearerToken(header)]).toEqual([header, /^Bearer ([^\s]+)$/i.exec(header)?.[1]]);
  });
});
