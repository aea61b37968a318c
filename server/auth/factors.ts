// The second factors themselves, over well-kept libraries: TOTP (RFC 6238 with `otpauth`:
// SHA-1, 6 digits, 30 s, ±1 step), passkeys (WebAuthn with `@simplewebauthn/server`:
// attestation none, user verification required, discoverable credentials, signature
// counters checked) and single-use recovery codes (80 random bits each, stored as SHA-256).
// Nothing here touches the database: server/domain/mfa.ts stores and consumes.
import { createHash, randomBytes } from 'node:crypto';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { Secret, TOTP } from 'otpauth';
import type { Config } from '../config.ts';

export const TOTP_PERIOD_SECONDS = 30;
const TOTP_DIGITS = 6;
/** Steps either side of now a code is accepted from (clock drift, typing time). */
const TOTP_WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;
/** How long a passkey ceremony (and its challenge) may take. */
export const CEREMONY_TIMEOUT_MS = 5 * 60_000;

function totp(secretBase32: string, label = ''): TOTP {
  return new TOTP({
    secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    label,
  });
}

/** A new TOTP secret (160 random bits, base32, as authenticator apps take it). */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The otpauth:// URI an authenticator app scans (shown as a QR code). */
export function totpUri(secretBase32: string, issuer: string, account: string): string {
  const t = totp(secretBase32, account);
  t.issuer = issuer;
  t.issuerInLabel = true;
  return t.toString();
}

/**
 * The time step (a counter of 30 s periods) `code` was made for, within ±1 step of
 * `nowMs`; undefined when it matches none. The caller refuses a step already used (replay).
 */
export function totpStep(secretBase32: string, code: string, nowMs = Date.now()): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const t = totp(secretBase32);
  const delta = t.validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return t.counter({ timestamp: nowMs }) + delta;
}

/** The code of a secret at a time (tests and the console's own checks use the library too). */
export function totpCode(secretBase32: string, nowMs = Date.now()): string {
  return totp(secretBase32).generate({ timestamp: nowMs });
}

const RECOVERY_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** Ten new recovery codes, `XXXX-XXXX-XXXX-XXXX` (16 of 32 symbols: 80 bits each). */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(16);
    const symbols = Array.from(bytes, (b) => RECOVERY_ALPHABET[b & 31]).join('');
    return symbols.match(/.{4}/g)!.join('-');
  });
}

/** A recovery code's stored form: SHA-256 of the code without dashes or case. */
export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code.replace(/[\s-]/g, '').toUpperCase()).digest('hex');
}

/** A fresh WebAuthn challenge (32 random bytes, base64url). */
export function newChallenge(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The origins passkeys are accepted from: WEBAUTHN_ORIGINS, or, when unset outside
 * production, any http://localhost:<port> (development and the browser tests).
 */
export function acceptedOrigin(
  config: Pick<Config, 'NODE_ENV' | 'WEBAUTHN_ORIGINS'>,
  origin: string,
): boolean {
  if (config.WEBAUTHN_ORIGINS.length > 0) return config.WEBAUTHN_ORIGINS.includes(origin);
  return config.NODE_ENV !== 'production' && /^http:\/\/localhost(:\d{1,5})?$/.test(origin);
}

/** The origin a browser wrote into a WebAuthn response's client data ('' if unreadable). */
function clientOrigin(clientDataJSON: string): string {
  try {
    const data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as {
      origin?: unknown;
    };
    return typeof data.origin === 'string' ? data.origin : '';
  } catch {
    return '';
  }
}

type RpConfig = Pick<Config, 'NODE_ENV' | 'WEBAUTHN_ORIGINS' | 'WEBAUTHN_RP_ID' | 'WEBAUTHN_RP_NAME'>;

/** Options for navigator.credentials.create(): a discoverable passkey, user verification required. */
export function passkeyRegistrationOptions(
  config: RpConfig,
  user: { id: string; email: string },
  challenge: string,
) {
  return generateRegistrationOptions({
    rpName: config.WEBAUTHN_RP_NAME,
    rpID: config.WEBAUTHN_RP_ID,
    userName: user.email,
    userID: new TextEncoder().encode(user.id),
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: CEREMONY_TIMEOUT_MS,
    attestationType: 'none',
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
}

/** Options for navigator.credentials.get(): any passkey of this site, user verification required. */
export function passkeyAuthenticationOptions(config: RpConfig, challenge: string) {
  return generateAuthenticationOptions({
    rpID: config.WEBAUTHN_RP_ID,
    challenge: Buffer.from(challenge, 'base64url'),
    timeout: CEREMONY_TIMEOUT_MS,
    userVerification: 'required',
  });
}

export interface NewPasskey {
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
  /** Synced (multi-device, backed up): amr 'swk'; bound to one device: 'hwk'. */
  backedUp: boolean;
}

/** Verifies a registration; undefined when it fails (wrong challenge, origin, rp, no UV...). */
export async function verifyPasskeyRegistration(
  config: RpConfig,
  response: RegistrationResponseJSON,
  challenge: string,
): Promise<NewPasskey | undefined> {
  const origin = clientOrigin(response.response.clientDataJSON);
  if (!acceptedOrigin(config, origin)) return undefined;
  try {
    const result = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: config.WEBAUTHN_RP_ID,
      requireUserVerification: true,
    });
    if (!result.verified) return undefined;
    const { credential, credentialBackedUp } = result.registrationInfo;
    return {
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey),
      counter: credential.counter,
      transports: credential.transports ?? [],
      backedUp: credentialBackedUp,
    };
  } catch {
    return undefined;
  }
}

export interface StoredPasskey {
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
}

/**
 * Verifies an assertion against a stored passkey: the new signature counter, or undefined
 * when it fails (signature, challenge, origin, rp, no user verification, a counter that did
 * not move past the stored one).
 */
export async function verifyPasskeyAssertion(
  config: RpConfig,
  response: AuthenticationResponseJSON,
  challenge: string,
  passkey: StoredPasskey,
): Promise<number | undefined> {
  const origin = clientOrigin(response.response.clientDataJSON);
  if (!acceptedOrigin(config, origin)) return undefined;
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: config.WEBAUTHN_RP_ID,
      requireUserVerification: true,
      credential: {
        id: passkey.credentialId,
        publicKey: new Uint8Array(passkey.publicKey),
        counter: passkey.counter,
        transports: passkey.transports as never,
      },
    });
    return result.verified ? result.authenticationInfo.newCounter : undefined;
  } catch {
    return undefined;
  }
}
