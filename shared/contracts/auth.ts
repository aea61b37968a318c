// auth.* (server/routers/auth.ts): sign-in, tokens, account e-mails. auth.mfa.* and
// auth.sessions / auth.revokeSession: ./auth/.
import { z } from 'zod';
import type { Contracts } from '../contract.ts';
import { exchangeApiKeyInput } from '../inputs/api-keys.ts';
import {
  changePasswordInput,
  loginInput,
  logoutInput,
  refreshInput,
  registerInput,
  requestPasswordResetInput,
  resendConfirmationInput,
  resetPasswordInput,
  verifyEmailInput,
} from '../inputs/auth.ts';
import { date, okOutput } from './common.ts';

export const tokenPairOutput = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  /** Seconds the access token lives. */
  expiresIn: z.number(),
});
export const sessionUserOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  privilegeLevel: z.number(),
  permissions: z.array(z.string()),
  plan: z.string(),
  features: z.array(z.string()),
});
export const authResultOutput = tokenPairOutput.extend({ user: sessionUserOutput });
/**
 * auth.register: the same for every well-formed request, whether or not the address has an
 * account (no session: the account is confirmed from the emailed link, then logs in).
 */
export const registerOutput = z.object({ email: z.string(), confirmationSent: z.literal(true) });
export const apiKeyTokenOutput = z.object({
  accessToken: z.string(),
  expiresIn: z.number(),
  keyId: z.string(),
});
export const meOutput = z.object({
  id: z.string(),
  email: z.string(),
  role: z.string(),
  privilegeLevel: z.number(),
  permissions: z.array(z.string()),
  features: z.array(z.string()),
  plan: z.string(),
  privacyNotice: z.string().nullable(),
  /** The address is confirmed (a link sent to it was followed). */
  emailVerified: z.boolean(),
  sessionId: z.string(),
  expiresAt: date,
  /** How the session was authenticated (RFC 8176 amr): ['pwd'], or with a factor ['pwd', 'otp', 'mfa']... */
  amr: z.array(z.string()),
  /** When the user last authenticated (the factor's time when amr has 'mfa'); null: not recorded. */
  authTime: date.nullable(),
});

export const authContract = {
  register: {
    meta: {
      auth: 'public',
      rateLimit: 'register',
      openapi: { summary: 'Register (accepting the current privacy notice): a confirmation link is emailed' },
    },
    input: registerInput,
    output: registerOutput,
  },
  login: {
    meta: { auth: 'public', rateLimit: 'login', openapi: { summary: 'Log in: a token pair' } },
    input: loginInput,
    output: authResultOutput,
  },
  refresh: {
    meta: { auth: 'public', openapi: { summary: 'Rotate a refresh token: a new pair' } },
    input: refreshInput,
    output: tokenPairOutput,
  },
  exchangeApiKey: {
    meta: { auth: 'public', openapi: { summary: 'An access token for a personal API key' } },
    input: exchangeApiKeyInput,
    output: apiKeyTokenOutput,
  },
  logout: {
    meta: { auth: 'public', openapi: { summary: 'End the session of a refresh token' } },
    input: logoutInput,
    output: okOutput,
  },
  logoutAll: {
    meta: {
      auth: 'user',
      beforeConsent: true,
      beforeFactor: true,
      openapi: { summary: 'End every session of the caller' },
    },
    output: okOutput,
  },
  changePassword: {
    meta: {
      auth: 'user',
      beforeConsent: true,
      beforeFactor: true,
      openapi: { summary: 'Change the password: a new pair, other sessions end' },
    },
    input: changePasswordInput,
    output: authResultOutput,
  },
  me: {
    meta: {
      auth: 'user',
      beforeConsent: true,
      beforeFactor: true,
      // Reads the caller's own token: what a key's token may do is what it shows.
      apiKey: 'any',
      openapi: { summary: 'Who the caller is (from the token alone)' },
    },
    output: meOutput,
  },
  requestPasswordReset: {
    meta: {
      auth: 'public',
      openapi: { summary: 'Email a password-reset link (the same answer for any address)' },
    },
    input: requestPasswordResetInput,
    output: okOutput,
  },
  resetPassword: {
    meta: {
      auth: 'public',
      openapi: { summary: 'Set a new password with a reset link; every session ends' },
    },
    input: resetPasswordInput,
    output: okOutput,
  },
  verifyEmail: {
    meta: { auth: 'public', openapi: { summary: 'Confirm an email address with its link' } },
    input: verifyEmailInput,
    output: okOutput,
  },
  resendConfirmation: {
    meta: {
      auth: 'public',
      rateLimit: 'register',
      openapi: {
        summary: 'Email a new confirmation link for a registration (the same answer for any address)',
      },
    },
    input: resendConfirmationInput,
    output: okOutput,
  },
  requestEmailVerification: {
    meta: {
      auth: 'user',
      beforeConsent: true,
      openapi: { summary: "Email a new confirmation link for the caller's address" },
    },
    output: okOutput,
  },
} satisfies Contracts;
