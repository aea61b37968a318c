// The admin console's session: its refresh token lives in an HttpOnly cookie that only the
// /auth/session/* procedures receive, and those accept a request only from the page's own
// origin with the console's header (docs/decisions/admin-console-session.md).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../trpc/context.ts';

/** Where the session procedures are served; the cookie's Path, so no other request carries it. */
export const SESSION_PATH = '/auth/session';
export const SESSION_COOKIE = 'm360_refresh';
/** A header a cross-site form or image cannot send, and a cross-origin fetch only after a preflight we refuse. */
export const SESSION_CSRF_HEADER = 'x-manas360-csrf';

const COOKIE_VALUE = /^[A-Za-z0-9_-]{20,128}$/;

/** The refresh token of the request's cookie, or undefined. */
export function readSessionCookie(ctx: Context): string | undefined {
  for (const part of (ctx.req.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return COOKIE_VALUE.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** Stores the token for maxAgeSeconds (0 deletes the cookie). */
export function setSessionCookie(ctx: Context, token: string, maxAgeSeconds: number): void {
  ctx.resHeaders.set(
    'set-cookie',
    `${SESSION_COOKIE}=${token}; Path=${SESSION_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`,
  );
}

export function clearSessionCookie(ctx: Context): void {
  setSessionCookie(ctx, '', 0);
}

/**
 * CSRF defence of the session procedures (on top of SameSite=Strict): the console's header,
 * and an Origin equal to the origin the request was sent to. Browsers send Origin with
 * every POST; a request without it is not from the console.
 */
export function sameOriginCheck(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const origin = req.headers.origin;
  if (req.headers[SESSION_CSRF_HEADER] !== '1' || origin !== `${req.protocol}://${req.host}`) {
    void reply.code(403).send({ error: { message: 'Cross-origin session request refused' } });
    return;
  }
  done();
}
