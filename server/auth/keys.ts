// Signing keys for access tokens. Ed25519 (EdDSA) with kid by default, several keys for
// rotation (sign with the newest, verify with all, publish the public ones as JWKS);
// HS256 only with a secret of at least 32 bytes. Development generates an Ed25519 key
// under DATA_DIR and says so; production refuses to start without configured keys.
// Keys are imported once, at start.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { z } from 'zod';
import type { Config } from '../config.ts';

export type SigningAlgorithm = 'EdDSA' | 'HS256';

export interface KeyRing {
  algorithm: SigningAlgorithm;
  /** The key new tokens are signed with (the newest). */
  signing: { kid: string; key: CryptoKey | Uint8Array };
  /** kid → verification key, for every key still accepted. */
  verification: Map<string, CryptoKey | Uint8Array>;
  /** Public keys for GET /.well-known/jwks.json (empty for HS256). */
  jwks: { keys: JWK[] };
}

const okpPrivateJwk = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().min(40),
  d: z.string().min(40),
  kid: z.string().min(1).max(100).optional(),
});
const jwkSetSchema = z.union([
  z.object({ keys: z.array(okpPrivateJwk).min(1) }),
  z.array(okpPrivateJwk).min(1),
]);

export class KeyConfigError extends Error {}

/**
 * Parses JWT_PRIVATE_KEYS: a JWK set or array of Ed25519 private JWKs, newest first, as JSON
 * or as that JSON base64url-encoded (what keys:generate prints: no quotes or spaces, so the
 * same line works in a shell, in a .env file and in `docker run --env-file`).
 */
export function parsePrivateKeys(text: string): z.infer<typeof okpPrivateJwk>[] {
  let json: unknown;
  try {
    const trimmed = text.trim();
    json = JSON.parse(/^[[{]/.test(trimmed) ? trimmed : Buffer.from(trimmed, 'base64url').toString('utf8'));
  } catch {
    throw new KeyConfigError(
      'invalid configuration: JWT_PRIVATE_KEYS is neither JSON nor base64url-encoded JSON',
    );
  }
  const parsed = jwkSetSchema.safeParse(json);
  if (!parsed.success)
    throw new KeyConfigError(
      'invalid configuration: JWT_PRIVATE_KEYS must hold Ed25519 private JWKs (kty OKP)',
    );
  return Array.isArray(parsed.data) ? parsed.data : parsed.data.keys;
}

/** JWT_PRIVATE_KEYS as keys:generate prints it: the JWK set's JSON, base64url-encoded. */
export function encodePrivateKeys(keys: JWK[]): string {
  return Buffer.from(JSON.stringify({ keys })).toString('base64url');
}

/** Makes a new Ed25519 private JWK with a thumbprint kid. */
export async function generatePrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  return jwk;
}

export async function buildKeyRing(privateJwks: z.infer<typeof okpPrivateJwk>[]): Promise<KeyRing> {
  const verification = new Map<string, CryptoKey | Uint8Array>();
  const publicJwks: JWK[] = [];
  let signing: KeyRing['signing'] | undefined;
  for (const jwk of privateJwks) {
    const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
    const { d: _d, ...pub } = jwk;
    const publicKey = (await importJWK({ ...pub, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey;
    verification.set(kid, publicKey);
    publicJwks.push({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' });
    if (!signing) signing = { kid, key: (await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey };
  }
  if (!signing) throw new KeyConfigError('no signing key');
  return { algorithm: 'EdDSA', signing, verification, jwks: { keys: publicJwks } };
}

export function hmacKeyRing(secret: string): KeyRing {
  const bytes = new TextEncoder().encode(secret);
  if (bytes.length < 32)
    throw new KeyConfigError('invalid configuration: JWT_SECRET must be at least 32 bytes');
  const kid = 'hs256';
  return {
    algorithm: 'HS256',
    signing: { kid, key: bytes },
    verification: new Map([[kid, bytes]]),
    jwks: { keys: [] },
  };
}

/** Loads the key ring the configuration names; in development, generates one under DATA_DIR. */
export async function loadKeyRing(
  config: Pick<Config, 'JWT_PRIVATE_KEYS' | 'JWT_SECRET' | 'DATA_DIR' | 'NODE_ENV'>,
  warn: (msg: string) => void = () => {},
): Promise<KeyRing> {
  if (config.JWT_PRIVATE_KEYS) return buildKeyRing(parsePrivateKeys(config.JWT_PRIVATE_KEYS));
  if (config.JWT_SECRET) return hmacKeyRing(config.JWT_SECRET);
  if (config.NODE_ENV === 'production')
    throw new KeyConfigError('invalid configuration: JWT_PRIVATE_KEYS is required');
  const file = join(config.DATA_DIR, 'jwt-keys.json');
  if (!existsSync(file)) {
    mkdirSync(config.DATA_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify({ keys: [await generatePrivateJwk()] }, null, 2), { mode: 0o600 });
    warn(`generated a development signing key in ${file} (set JWT_PRIVATE_KEYS in production)`);
  }
  return buildKeyRing(parsePrivateKeys(readFileSync(file, 'utf8')));
}
