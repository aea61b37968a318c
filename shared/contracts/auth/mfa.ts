// auth.mfa.* (server/routers/auth/mfa.ts): second factors (docs/decisions/staff-mfa.md).
// The sign-in's second step is public (it takes the challenge token auth.login answered
// with); setting a factor up is open to a session without one (beforeFactor); changing or
// removing one needs a step-up. The passkey options are WebAuthn's JSON options
// (@simplewebauthn/browser's startRegistration / startAuthentication take them as they are).
import { z } from 'zod';
import type { Contracts, Meta } from '../../contract.ts';
import {
  completeLoginInput,
  confirmPasskeyInput,
  confirmTotpInput,
  loginOptionsInput,
  removeFactorInput,
  renameFactorInput,
  verifyFactorInput,
} from '../../inputs/mfa.ts';
import { authResultOutput } from '../auth.ts';
import { date, okOutput } from '../common.ts';

const FACTOR_KINDS = ['totp', 'passkey'] as const;
const transports = z.array(z.enum(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']));
const userVerification = z.enum(['discouraged', 'preferred', 'required']);
const hints = z.array(z.enum(['hybrid', 'security-key', 'client-device']));
const credential = z.object({
  id: z.string(),
  type: z.literal('public-key'),
  transports: transports.optional(),
});
const extensions = z.object({
  appid: z.string().optional(),
  credProps: z.boolean().optional(),
  hmacCreateSecret: z.boolean().optional(),
  minPinLength: z.boolean().optional(),
});

/** navigator.credentials.get()'s options (PublicKeyCredentialRequestOptionsJSON). */
export const passkeyRequestOptionsOutput = z.object({
  challenge: z.string(),
  timeout: z.number().optional(),
  rpId: z.string().optional(),
  allowCredentials: z.array(credential).optional(),
  userVerification: userVerification.optional(),
  hints: hints.optional(),
  extensions: extensions.optional(),
});
/** navigator.credentials.create()'s options (PublicKeyCredentialCreationOptionsJSON). */
export const passkeyCreationOptionsOutput = z.object({
  rp: z.object({ id: z.string().optional(), name: z.string() }),
  user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }),
  challenge: z.string(),
  pubKeyCredParams: z.array(z.object({ alg: z.number(), type: z.literal('public-key') })),
  timeout: z.number().optional(),
  excludeCredentials: z.array(credential).optional(),
  authenticatorSelection: z
    .object({
      authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
      requireResidentKey: z.boolean().optional(),
      residentKey: userVerification.optional(),
      userVerification: userVerification.optional(),
    })
    .optional(),
  hints: hints.optional(),
  attestation: z.enum(['none', 'direct', 'enterprise', 'indirect']).optional(),
  attestationFormats: z
    .array(z.enum(['none', 'fido-u2f', 'packed', 'android-safetynet', 'android-key', 'tpm', 'apple']))
    .optional(),
  extensions: extensions.optional(),
});

/** A factor stored: a new access token (amr, auth_time now); the first factor brings recovery codes. */
export const factorConfirmedOutput = z.object({
  accessToken: z.string(),
  expiresIn: z.number(),
  factor: z.object({ id: z.string(), kind: z.enum(FACTOR_KINDS), name: z.string() }),
  /** Shown once; null unless this is the caller's first factor. */
  recoveryCodes: z.array(z.string()).nullable(),
});

/** Callable by any signed-in session, with or without a factor, before the notice too. */
const setup = (openapi?: Meta['openapi']): Meta => ({
  auth: 'user',
  beforeConsent: true,
  beforeFactor: true,
  ...(openapi ? { openapi } : {}),
});

export const mfaContract = {
  completeLogin: {
    meta: {
      auth: 'public',
      rateLimit: 'login',
      openapi: { summary: "Sign-in step 2: auth.login's challenge token and a factor → the pair" },
    },
    input: completeLoginInput,
    output: authResultOutput,
  },
  loginOptions: {
    meta: {
      auth: 'public',
      rateLimit: 'login',
      openapi: { summary: 'The passkey request options of a sign-in challenge' },
    },
    input: loginOptionsInput,
    output: passkeyRequestOptionsOutput,
  },
  factors: {
    meta: setup({ summary: "The caller's factors and how many recovery codes are left" }),
    output: z.object({
      factors: z.array(
        z.object({
          id: z.string(),
          kind: z.enum(FACTOR_KINDS),
          name: z.string(),
          createdAt: date,
          lastUsedAt: date.nullable(),
        }),
      ),
      recoveryCodesLeft: z.number(),
    }),
  },
  verify: {
    meta: {
      ...setup({ summary: 'Step-up: a factor verified again → a new access token' }),
      rateLimit: 'login',
    },
    input: verifyFactorInput,
    output: z.object({ accessToken: z.string(), expiresIn: z.number() }),
  },
  verifyOptions: {
    meta: setup({ summary: "A passkey step-up's ceremony token and request options" }),
    output: z.object({ ceremonyToken: z.string(), options: passkeyRequestOptionsOutput }),
  },
  totp: {
    begin: {
      meta: setup({ summary: 'A new TOTP secret and its otpauth:// URI, with the token confirm takes' }),
      output: z.object({ enrolmentToken: z.string(), secret: z.string(), uri: z.string() }),
    },
    confirm: {
      meta: setup({ summary: 'The first code from the app: the TOTP factor is stored' }),
      input: confirmTotpInput,
      output: factorConfirmedOutput,
    },
  },
  passkey: {
    begin: {
      meta: setup({ summary: 'Passkey registration options and the token confirm takes' }),
      output: z.object({ enrolmentToken: z.string(), options: passkeyCreationOptionsOutput }),
    },
    confirm: {
      meta: setup({ summary: "The authenticator's response: the passkey is stored" }),
      input: confirmPasskeyInput,
      output: factorConfirmedOutput,
    },
  },
  rename: {
    meta: { auth: 'user', stepUp: true, openapi: { summary: 'Rename a factor' } },
    input: renameFactorInput,
    output: okOutput,
  },
  remove: {
    meta: {
      auth: 'user',
      stepUp: true,
      openapi: { summary: 'Remove a factor (not the last one of a role that needs one)' },
    },
    input: removeFactorInput,
    output: okOutput,
  },
  recoveryCodes: {
    meta: {
      auth: 'user',
      stepUp: true,
      openapi: { summary: 'Ten new recovery codes (shown once); the old ones stop working' },
    },
    output: z.object({ recoveryCodes: z.array(z.string()) }),
  },
} satisfies Contracts;
