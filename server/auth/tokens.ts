// Access tokens: sign and verify JWTs that carry identity, role, permissions and plan
// features, so authentication, RBAC and feature gates make no database query.
// Verification pins the algorithm, issuer, audience, type (at+jwt) and required claims.
import { randomUUID } from 'node:crypto';
import { errors, type JWTHeaderParameters, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import type { KeyRing } from './keys.ts';

export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_BYTES = 8 * 1024;
export const CLOCK_TOLERANCE_SECONDS = 30;

const claimsSchema = z.object({
  sub: z.uuid(),
  email: z.string().max(254),
  role: z.string().max(40),
  privilegeLevel: z.number().int().min(0).max(100),
  permissions: z.array(z.string().max(64)).max(200),
  features: z.array(z.string().max(64)).max(100),
  plan: z.string().max(40),
  /** The privacy notice version the user had accepted when the token was issued. */
  privacyNotice: z.string().max(40).optional(),
  /** Present (true) once the account's address was confirmed through a link sent to it. */
  emailVerified: z.literal(true).optional(),
  /**
   * How the session was authenticated (RFC 8176): 'pwd', plus 'otp' (TOTP or a recovery
   * code), 'hwk'/'swk' (a passkey bound to a device / synced) and 'mfa' with a second
   * factor. Absent: a password alone (tokens from before second factors, API keys).
   */
  amr: z.array(z.string().max(8)).max(8).optional(),
  /** When the user last authenticated (epoch seconds): the factor's time when amr has one. */
  auth_time: z.number().int().optional(),
  sid: z.uuid(),
  /**
   * Present on a token that descends from an API key (sid = the key's id): the key's scopes
   * and its expiry (epoch seconds). Such a token carries at most these permissions, expires
   * no later than the key, and every token re-issued from it keeps both (reissue).
   */
  apiKey: z
    .strictObject({ scopes: z.array(z.string().max(64)).max(100), expiresAt: z.number().int() })
    .optional(),
  jti: z.string().min(1).max(100),
  iat: z.number().int(),
  exp: z.number().int(),
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
});
export type AccessClaims = z.infer<typeof claimsSchema>;

/** What the server knows about a user when it issues a token. */
export interface TokenSubject {
  id: string;
  email: string;
  role: string;
  privilegeLevel: number;
  permissions: string[];
  features: string[];
  plan: string;
  /** The privacy notice version accepted; null or absent: none. */
  privacyNotice?: string | null | undefined;
  /** The address was confirmed (users.email_verified_at); absent: not. */
  emailVerified?: boolean | undefined;
  /** How the session was authenticated (the amr claim); absent: not stated (a password). */
  amr?: string[] | undefined;
  /** When the user last authenticated, epoch seconds (the auth_time claim). */
  auth_time?: number | undefined;
}

/** The token of a second-factor ceremony (sign-in challenge, enrolment, step-up). */
export const CEREMONY_TOKEN_TYPE = 'mfa+jwt';

const ceremonySchema = z.object({
  sub: z.uuid(),
  /** What the token is for: a ceremony token is accepted by that procedure only. */
  purpose: z.enum(['login', 'totp-enrol', 'passkey-enrol', 'verify']),
  /** The WebAuthn challenge (base64url) of this ceremony. */
  challenge: z.string().max(100),
  jti: z.uuid(),
  exp: z.number().int(),
  /** login: the account as the password was checked (session generation, tokens_valid_after). */
  gen: z.number().int().optional(),
  tva: z.number().optional(),
  /** verify/enrol: the session (refresh family) the ceremony belongs to. */
  sid: z.uuid().optional(),
  /** totp-enrol: the new secret, sealed by the notes key (server/crypto/notes.ts). */
  sealed: z.object({ keyId: z.string().max(40), ciphertext: z.string().max(400) }).optional(),
});
export type CeremonyClaims = z.infer<typeof ceremonySchema>;

/** The API key a token descends from: its scopes and expiry (epoch seconds). */
export type ApiKeyGrant = NonNullable<AccessClaims['apiKey']>;

export class InvalidTokenError extends Error {
  readonly why: string;
  constructor(why: string) {
    super(`invalid access token: ${why}`);
    this.why = why;
  }
}

export interface TokenServiceOptions {
  keys: KeyRing;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /** Entries in the verified-token cache; 0 turns it off. */
  cacheSize?: number;
}

/**
 * The verified-token cache's key: the signature segment. Hashing a ~700-character string for
 * a Map costs ~1.5 µs, and every request's header is a new string; the ~86 characters of
 * an EdDSA signature cost a tenth of that. An entry is used only for the very same token
 * (compared whole), so two tokens sharing a signature segment only evict each other.
 */
const cacheKey = (token: string) => token.slice(token.lastIndexOf('.') + 1);

export class TokenService {
  private readonly cache = new Map<string, { token: string; claims: AccessClaims }>();
  private readonly inflight = new Map<string, Promise<AccessClaims>>();
  /** Verified-token cache hits and misses (read by the benchmark and metrics). */
  readonly cacheStats = { hits: 0, misses: 0 };
  private readonly cacheSize: number;
  private readonly opts: TokenServiceOptions;
  constructor(opts: TokenServiceOptions) {
    this.opts = opts;
    this.cacheSize = opts.cacheSize ?? 10_000;
  }

  get ttlSeconds(): number {
    return this.opts.ttlSeconds;
  }

  get jwks() {
    return this.opts.keys.jwks;
  }

  /**
   * Signs an access token issued at `iat` (epoch seconds; default now). Callers that read
   * the user first pass the time of that read lifted to tokens_valid_after
   * (claims.ts issuedAt): signing with the clock at signing time would date a token after
   * a revocation that committed between the read and the signature, and it would survive.
   */
  async sign(
    subject: TokenSubject,
    sid: string,
    iat = Math.floor(Date.now() / 1000),
    apiKey?: ApiKeyGrant,
  ): Promise<{ token: string; claims: AccessClaims }> {
    // A key's token: the subject's permissions that the key's scopes name, and an exp that no
    // verifier accepts past the key's expiry (verify allows CLOCK_TOLERANCE_SECONDS beyond exp).
    const exp = Math.min(
      iat + this.opts.ttlSeconds,
      apiKey ? apiKey.expiresAt - CLOCK_TOLERANCE_SECONDS : Number.POSITIVE_INFINITY,
    );
    const jti = randomUUID();
    const { signing, algorithm } = this.opts.keys;
    const body = {
      email: subject.email,
      role: subject.role,
      privilegeLevel: subject.privilegeLevel,
      permissions: apiKey
        ? subject.permissions.filter((p) => apiKey.scopes.includes(p))
        : subject.permissions,
      features: subject.features,
      plan: subject.plan,
      ...(subject.privacyNotice ? { privacyNotice: subject.privacyNotice } : {}),
      ...(subject.emailVerified ? { emailVerified: true as const } : {}),
      ...(subject.amr ? { amr: subject.amr } : {}),
      ...(subject.auth_time !== undefined ? { auth_time: subject.auth_time } : {}),
      sid,
      ...(apiKey ? { apiKey: { scopes: apiKey.scopes, expiresAt: apiKey.expiresAt } } : {}),
    };
    const token = await new SignJWT(body)
      .setProtectedHeader({ alg: algorithm, kid: signing.kid, typ: ACCESS_TOKEN_TYPE })
      .setSubject(subject.id)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .sign(signing.key);
    return {
      token,
      claims: { ...body, sub: subject.id, jti, iat, exp, iss: this.opts.issuer, aud: this.opts.audience },
    };
  }

  /**
   * Signs a second-factor ceremony token: type mfa+jwt and its own audience, so the access
   * token verifier refuses it (and this one refuses access tokens). Valid `ttlSeconds`.
   */
  async signCeremony(claims: Omit<CeremonyClaims, 'jti' | 'exp'>, ttlSeconds: number) {
    const { signing, algorithm } = this.opts.keys;
    const jti = randomUUID();
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const { sub, ...body } = claims;
    const token = await new SignJWT(body)
      .setProtectedHeader({ alg: algorithm, kid: signing.kid, typ: CEREMONY_TOKEN_TYPE })
      .setSubject(sub)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime(exp)
      .setIssuer(this.opts.issuer)
      .setAudience(`${this.opts.audience}:mfa`)
      .sign(signing.key);
    return { token, claims: { ...claims, jti, exp } };
  }

  /** Verifies a ceremony token for `purpose`; throws InvalidTokenError. */
  async verifyCeremony(token: string, purpose: CeremonyClaims['purpose']): Promise<CeremonyClaims> {
    if (token.length > MAX_TOKEN_BYTES) throw new InvalidTokenError('too large');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: [this.opts.keys.algorithm],
        issuer: this.opts.issuer,
        audience: `${this.opts.audience}:mfa`,
        typ: CEREMONY_TOKEN_TYPE,
        requiredClaims: ['exp', 'sub', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      throw new InvalidTokenError(err instanceof errors.JOSEError ? err.code : 'malformed');
    }
    const parsed = ceremonySchema.safeParse(payload);
    if (!parsed.success || parsed.data.purpose !== purpose) throw new InvalidTokenError('claims');
    return parsed.data;
  }

  /**
   * A new token for the caller's own session, from fresh claims (e.g. privacy.acceptNotice):
   * the same sid, and for a token that descends from an API key the same key grant — so a
   * re-issued token never carries more than the token it replaces, and dies with its key.
   * How the session was authenticated (amr, auth_time) carries over unless `subject` states
   * it anew (a second factor just verified). Every procedure that hands a signed-in caller a
   * new access token for their session signs it here, never with sign().
   */
  reissue(caller: AccessClaims, subject: TokenSubject, iat?: number) {
    const authenticated = {
      ...subject,
      amr: subject.amr ?? caller.amr,
      auth_time: subject.auth_time ?? caller.auth_time,
    };
    return this.sign(authenticated, caller.sid, iat, caller.apiKey);
  }

  /** Verifies a bearer token; throws InvalidTokenError. Revocation is checked by the caller. */
  async verify(token: string): Promise<AccessClaims> {
    if (token.length > MAX_TOKEN_BYTES) throw new InvalidTokenError('too large');
    const nowSeconds = Date.now() / 1000;
    const key = cacheKey(token);
    const cached = this.cache.get(key);
    if (cached?.token === token) {
      if (cached.claims.exp + CLOCK_TOLERANCE_SECONDS > nowSeconds) {
        this.cacheStats.hits += 1;
        return cached.claims;
      }
      this.cache.delete(key);
    }
    this.cacheStats.misses += 1;
    // Concurrent requests with the same fresh token share one signature check.
    const pending = this.inflight.get(token);
    if (pending) return pending;
    const check = this.verifyUncached(token, nowSeconds).finally(() => this.inflight.delete(token));
    this.inflight.set(token, check);
    return check;
  }

  private async verifyUncached(token: string, nowSeconds: number): Promise<AccessClaims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: [this.opts.keys.algorithm],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      throw new InvalidTokenError(err instanceof errors.JOSEError ? err.code : 'malformed');
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw new InvalidTokenError('claims');
    const claims = parsed.data;
    if (claims.iat > nowSeconds + CLOCK_TOLERANCE_SECONDS)
      throw new InvalidTokenError('issued in the future');
    if (this.cacheSize > 0) {
      // Bounded: drop the oldest entry (Map keeps insertion order).
      const key = cacheKey(token);
      if (this.cache.size >= this.cacheSize && !this.cache.has(key))
        this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { token, claims });
    }
    return claims;
  }

  private readonly getKey = (header: JWTHeaderParameters) => {
    const key = typeof header.kid === 'string' ? this.opts.keys.verification.get(header.kid) : undefined;
    if (!key) throw new InvalidTokenError('unknown kid');
    return key;
  };
}
