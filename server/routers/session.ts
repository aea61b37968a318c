// The admin console's cookie session, served at /auth/session/* (not under /trpc): login,
// refresh and logout as auth.* does them, but the refresh token travels in an HttpOnly
// cookie scoped to this path instead of the response body, so no page script can read it.
// Other clients keep auth.login / auth.refresh with the token in the body.
import { sessionContract as c } from '../../shared/contracts/session.ts';
import * as auth from '../domain/auth.ts';
import { unauthorized } from '../domain/errors.ts';
import * as mfa from '../domain/mfa.ts';
import { clearSessionCookie, readSessionCookie, setSessionCookie } from '../http/session-cookie.ts';
import type { Context } from '../trpc/context.ts';
import { publicProcedure, router } from '../trpc/init.ts';
import { client } from './auth.ts';

/** Moves the refresh token from the result into the cookie. */
function withCookie<T extends { refreshToken: string }>(ctx: Context, result: T): Omit<T, 'refreshToken'> {
  const { refreshToken, ...rest } = result;
  setSessionCookie(ctx, refreshToken, ctx.deps.config.REFRESH_TOKEN_TTL_SECONDS);
  return rest;
}

export const sessionRouter = router({
  /** auth.login; the refresh token goes into the cookie. */
  login: publicProcedure
    .meta(c.login.meta)
    .input(c.login.input)
    .output(c.login.output)
    .mutation(async ({ ctx, input }) => withCookie(ctx, await auth.login(ctx.deps, input, client(ctx)))),

  /** auth.mfa.completeLogin (the second step of a staff sign-in); the refresh token goes into the cookie. */
  completeLogin: publicProcedure
    .meta(c.completeLogin.meta)
    .input(c.completeLogin.input)
    .output(c.completeLogin.output)
    .mutation(async ({ ctx, input }) =>
      withCookie(ctx, await mfa.completeLogin(ctx.deps, input, client(ctx))),
    ),

  /** auth.mfa.loginOptions: the passkey request options of the sign-in challenge. */
  loginOptions: publicProcedure
    .meta(c.loginOptions.meta)
    .input(c.loginOptions.input)
    .output(c.loginOptions.output)
    .mutation(({ ctx, input }) => mfa.loginOptions(ctx.deps, input.challengeToken)),

  /** Rotates the cookie's refresh token: a new access token (and cookie). A refused token clears the cookie. */
  refresh: publicProcedure
    .meta(c.refresh.meta)
    .output(c.refresh.output)
    .mutation(async ({ ctx }) => {
      const token = readSessionCookie(ctx);
      if (!token) throw unauthorized('No session');
      try {
        return withCookie(ctx, await auth.refresh(ctx.deps, token, client(ctx)));
      } catch (err) {
        clearSessionCookie(ctx);
        throw err;
      }
    }),

  /** Ends the cookie's session (its refresh family and access tokens) and deletes the cookie. */
  logout: publicProcedure
    .meta(c.logout.meta)
    .output(c.logout.output)
    .mutation(async ({ ctx }) => {
      const token = readSessionCookie(ctx);
      if (token) await auth.logout(ctx.deps, token, client(ctx));
      clearSessionCookie(ctx);
      return { ok: true as const };
    }),
});

export type SessionRouter = typeof sessionRouter;
