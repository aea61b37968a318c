// auth.* wired to their use cases (server/domain/auth.ts); auth.me reads the verified
// token alone.
import { exchangeApiKeyInput } from '../../shared/inputs/api-keys.ts';
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
} from '../../shared/inputs/auth.ts';
import {
  apiKeyTokenOutput,
  authResultOutput,
  meOutput,
  okOutput,
  registerOutput,
  tokenPairOutput,
} from '../../shared/outputs.ts';
import {
  requestEmailVerification,
  requestPasswordReset,
  resendConfirmation,
  resetPassword,
  verifyEmail,
} from '../domain/account-email.ts';
import { exchangeApiKey } from '../domain/api-keys.ts';
import * as auth from '../domain/auth.ts';
import type { Context } from '../trpc/context.ts';
import { protectedProcedure, publicProcedure, router } from '../trpc/init.ts';

/** Where the call comes from (stored with a session). */
export const client = (ctx: Context) => ({ ip: ctx.req.ip, userAgent: ctx.req.userAgent });

export const authRouter = router({
  /**
   * The same answer for every well-formed request, new address or not (no session): the
   * account is pending until its emailed link is followed (auth.verifyEmail).
   */
  register: publicProcedure
    .meta({
      auth: 'public',
      rateLimit: 'register',
      openapi: {
        summary: 'Register (accepting the current privacy notice): a confirmation link is emailed',
      },
    })
    .input(registerInput)
    .output(registerOutput)
    .mutation(({ ctx, input }) => auth.register(ctx.deps, input, client(ctx))),

  login: publicProcedure
    .meta({
      auth: 'public',
      rateLimit: 'login',
      openapi: {
        summary: 'Log in: a token pair',
      },
    })
    .input(loginInput)
    .output(authResultOutput)
    .mutation(({ ctx, input }) => auth.login(ctx.deps, input, client(ctx))),

  /** Rotation: the presented token is consumed and a new pair comes back. */
  refresh: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'Rotate a refresh token: a new pair',
      },
    })
    .input(refreshInput)
    .output(tokenPairOutput)
    .mutation(({ ctx, input }) => auth.refresh(ctx.deps, input.refreshToken, client(ctx))),

  /** An API key for a short-lived access token (sid = the key's id); rate-limited per IP. */
  exchangeApiKey: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'An access token for a personal API key',
      },
    })
    .input(exchangeApiKeyInput)
    .output(apiKeyTokenOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.deps.quotas.apiKeyExchange.consume(ctx.req.ip);
      return exchangeApiKey(ctx.deps, input.apiKey, ctx.req.ip);
    }),

  /** Ends the session of this refresh token (and its access tokens). Needs no access token. */
  logout: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'End the session of a refresh token',
      },
    })
    .input(logoutInput)
    .output(okOutput)
    .mutation(({ ctx, input }) => auth.logout(ctx.deps, input.refreshToken, client(ctx))),

  /** Ends every session of the caller, on every instance, at once. */
  logoutAll: protectedProcedure
    .meta({
      auth: 'user',
      beforeConsent: true,
      beforeFactor: true,
      openapi: {
        summary: 'End every session of the caller',
      },
    })
    .output(okOutput)
    .mutation(async ({ ctx }) => {
      await auth.endAllSessions(ctx.deps, ctx.auth.sub, {
        actorId: ctx.auth.sub,
        action: 'auth.logoutAll',
        ip: ctx.req.ip,
      });
      return { ok: true as const };
    }),

  /** A new token pair; every other session of the caller ends. */
  changePassword: protectedProcedure
    .meta({
      auth: 'user',
      beforeConsent: true,
      beforeFactor: true,
      openapi: {
        summary: 'Change the password: a new pair, other sessions end',
      },
    })
    .input(changePasswordInput)
    .output(authResultOutput)
    .mutation(({ ctx, input }) => auth.changePassword(ctx.deps, ctx.auth.sub, input, client(ctx))),

  /** Who the caller is, from the verified token alone: zero database queries. */
  me: protectedProcedure
    .meta({
      auth: 'user',
      beforeConsent: true,
      beforeFactor: true,
      // Reads the caller's own token: what a key's token may do is what it shows.
      apiKey: 'any',
      openapi: {
        summary: 'Who the caller is (from the token alone)',
      },
    })
    .output(meOutput)
    .query(({ ctx }) => {
      const a = ctx.auth;
      return {
        id: a.sub,
        email: a.email,
        role: a.role,
        privilegeLevel: a.privilegeLevel,
        permissions: a.permissions,
        features: a.features,
        plan: a.plan,
        privacyNotice: a.privacyNotice ?? null,
        emailVerified: a.emailVerified === true,
        sessionId: a.sid,
        amr: a.amr ?? ['pwd'],
        authTime: a.auth_time === undefined ? null : new Date(a.auth_time * 1000),
        expiresAt: new Date(a.exp * 1000),
      };
    }),
  /**
   * A reset link to the address, if it has an active account: the same answer (and time)
   * either way. 3 an hour per address, 20 per IP.
   */
  requestPasswordReset: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'Email a password-reset link (the same answer for any address)',
      },
    })
    .input(requestPasswordResetInput)
    .output(okOutput)
    .mutation(({ ctx, input }) => requestPasswordReset(ctx.deps, input, ctx.req.ip)),

  /** Sets the password from a reset link (single use, 30 minutes); every session ends. */
  resetPassword: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'Set a new password with a reset link; every session ends',
      },
    })
    .input(resetPasswordInput)
    .output(okOutput)
    .mutation(({ ctx, input }) => resetPassword(ctx.deps, input, client(ctx))),

  /**
   * Confirms an address from its link: a registration's (the pending account becomes active;
   * no session: the client then logs in), or users.changeEmail's new address.
   */
  verifyEmail: publicProcedure
    .meta({
      auth: 'public',
      openapi: {
        summary: 'Confirm an email address with its link',
      },
    })
    .input(verifyEmailInput)
    .output(okOutput)
    .mutation(({ ctx, input }) => verifyEmail(ctx.deps, input.token, ctx.req.ip)),

  /**
   * A new confirmation link for a registration not yet confirmed, by address: the same
   * answer (and time) whatever the address. Rate-limited as registration is, and 3 an hour
   * per address.
   */
  resendConfirmation: publicProcedure
    .meta({
      auth: 'public',
      rateLimit: 'register',
      openapi: {
        summary: 'Email a new confirmation link for a registration (the same answer for any address)',
      },
    })
    .input(resendConfirmationInput)
    .output(okOutput)
    .mutation(({ ctx, input }) => resendConfirmation(ctx.deps, input)),

  /** A new confirmation link for the caller's unconfirmed address (3 an hour). */
  requestEmailVerification: protectedProcedure
    .meta({
      auth: 'user',
      beforeConsent: true,
      openapi: {
        summary: "Email a new confirmation link for the caller's address",
      },
    })
    .output(okOutput)
    .mutation(({ ctx }) => requestEmailVerification(ctx.deps, ctx.auth.sub)),
});
