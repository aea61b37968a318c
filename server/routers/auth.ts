// auth.* wired to their use cases (server/domain/auth.ts); auth.me reads the verified
// token alone.
import { authContract as c } from '../../shared/contracts/auth.ts';
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
  register: publicProcedure
    .meta(c.register.meta)
    .input(c.register.input)
    .output(c.register.output)
    .mutation(({ ctx, input }) => auth.register(ctx.deps, input, client(ctx))),

  login: publicProcedure
    .meta(c.login.meta)
    .input(c.login.input)
    .output(c.login.output)
    .mutation(({ ctx, input }) => auth.login(ctx.deps, input, client(ctx))),

  /** Rotation: the presented token is consumed and a new pair comes back. */
  refresh: publicProcedure
    .meta(c.refresh.meta)
    .input(c.refresh.input)
    .output(c.refresh.output)
    .mutation(({ ctx, input }) => auth.refresh(ctx.deps, input.refreshToken, client(ctx))),

  /** An API key for a short-lived access token (sid = the key's id); rate-limited per IP. */
  exchangeApiKey: publicProcedure
    .meta(c.exchangeApiKey.meta)
    .input(c.exchangeApiKey.input)
    .output(c.exchangeApiKey.output)
    .mutation(async ({ ctx, input }) => {
      await ctx.deps.quotas.apiKeyExchange.consume(ctx.req.ip);
      return exchangeApiKey(ctx.deps, input.apiKey, ctx.req.ip);
    }),

  /** Ends the session of this refresh token (and its access tokens). Needs no access token. */
  logout: publicProcedure
    .meta(c.logout.meta)
    .input(c.logout.input)
    .output(c.logout.output)
    .mutation(({ ctx, input }) => auth.logout(ctx.deps, input.refreshToken, client(ctx))),

  /** Ends every session of the caller, on every instance, at once. */
  logoutAll: protectedProcedure
    .meta(c.logoutAll.meta)
    .output(c.logoutAll.output)
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
    .meta(c.changePassword.meta)
    .input(c.changePassword.input)
    .output(c.changePassword.output)
    .mutation(({ ctx, input }) => auth.changePassword(ctx.deps, ctx.auth.sub, input, client(ctx))),

  /** Who the caller is, from the verified token alone: zero database queries. */
  me: protectedProcedure
    .meta(c.me.meta)
    .output(c.me.output)
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
    .meta(c.requestPasswordReset.meta)
    .input(c.requestPasswordReset.input)
    .output(c.requestPasswordReset.output)
    .mutation(({ ctx, input }) => requestPasswordReset(ctx.deps, input, ctx.req.ip)),

  /** Sets the password from a reset link (single use, 30 minutes); every session ends. */
  resetPassword: publicProcedure
    .meta(c.resetPassword.meta)
    .input(c.resetPassword.input)
    .output(c.resetPassword.output)
    .mutation(({ ctx, input }) => resetPassword(ctx.deps, input, client(ctx))),

  /** Confirms an address from its link (registration, or users.changeEmail's new address). */
  verifyEmail: publicProcedure
    .meta(c.verifyEmail.meta)
    .input(c.verifyEmail.input)
    .output(c.verifyEmail.output)
    .mutation(({ ctx, input }) => verifyEmail(ctx.deps, input.token, ctx.req.ip)),

  /**
   * A new confirmation link for a registration not yet confirmed, by address: the same
   * answer (and time) whatever the address. Rate-limited as registration is, and 3 an hour
   * per address.
   */
  resendConfirmation: publicProcedure
    .meta(c.resendConfirmation.meta)
    .input(c.resendConfirmation.input)
    .output(c.resendConfirmation.output)
    .mutation(({ ctx, input }) => resendConfirmation(ctx.deps, input)),

  /** A new confirmation link for the caller's unconfirmed address (3 an hour). */
  requestEmailVerification: protectedProcedure
    .meta(c.requestEmailVerification.meta)
    .output(c.requestEmailVerification.output)
    .mutation(({ ctx }) => requestEmailVerification(ctx.deps, ctx.auth.sub)),
});
