// Request context in two parts: createContext turns an HTTP request
// into verified claims (0 DB queries: signature, pinned claims, in-memory revocation
// check); createContextInner turns claims into the context, so tests inject claims
// without signing tokens and createCaller drives routers directly.
import type { Reader } from '../audit.ts';
import type { AccessClaims } from '../auth/tokens.ts';
import { InvalidTokenError } from '../auth/tokens.ts';
import type { AppDeps } from '../services.ts';
import type { CallRecord } from './hooks.ts';

export interface RequestInfo {
  ip: string;
  requestId: string;
  userAgent?: string | undefined;
  /** The Cookie header: only the admin console's session procedures read it (server/http/session-cookie.ts). */
  cookie?: string | undefined;
  /** The Idempotency-Key header: a mutation's retry returns its first result (server/idempotency.ts). */
  idempotencyKey?: string | undefined;
}

export interface Context {
  deps: AppDeps;
  /** Verified, unrevoked access-token claims, or null when anonymous. */
  auth: AccessClaims | null;
  /** Why a presented token was refused (a protected procedure answers UNAUTHORIZED). */
  authError: string | null;
  req: RequestInfo;
  /** Response headers a procedure may set (e.g. Retry-After). */
  resHeaders: Map<string, string>;
  /** The procedure calls of this request (the call pipeline adds each; its log line reads them). */
  calls: CallRecord[];
  /**
   * Whether results are checked against their procedure's .output() schema
   * (server/trpc/invoke.ts deferOutputChecks): 'off' on /trpc by default, 'parse' for REST
   * (tRPC's own check), 'strict' everywhere with OUTPUT_VALIDATION=all (the check, and no
   * field the schema does not declare).
   */
  outputCheck: 'off' | 'parse' | 'strict';
}

/** The signed-in caller as an audited read records them: id, ip and request id. */
export function readerOf(ctx: Pick<Context, 'req'> & { auth: AccessClaims }): Reader {
  return { id: ctx.auth.sub, ip: ctx.req.ip, requestId: ctx.req.requestId };
}

export function createContextInner(opts: {
  deps: AppDeps;
  auth?: AccessClaims | null;
  authError?: string | null;
  req?: Partial<RequestInfo>;
}): Context {
  return {
    deps: opts.deps,
    auth: opts.auth ?? null,
    authError: opts.authError ?? null,
    req: {
      ip: opts.req?.ip ?? '127.0.0.1',
      requestId: opts.req?.requestId ?? 'internal',
      userAgent: opts.req?.userAgent,
      cookie: opts.req?.cookie,
      idempotencyKey: opts.req?.idempotencyKey,
    },
    resHeaders: new Map(),
    calls: [],
    // (deps without a config: contexts tests build for the hooks alone)
    outputCheck: opts.deps.config?.OUTPUT_VALIDATION === 'all' ? 'strict' : 'off',
  };
}

const WHITESPACE = /\s/;
/** 'b', 'e', 'a', 'r', 'e', 'r' in either case (c | 0x20 lowers ASCII letters only). */
const BEARER = [0x62, 0x65, 0x61, 0x72, 0x65, 0x72];

/**
 * The token of "Bearer <token>" (the scheme in any case, one space, no whitespace in the
 * token: /^Bearer ([^\s]+)$/i), without the regular expression's match array and copy.
 */
export function bearerToken(authorization: string): string | undefined {
  if (authorization.length < 8 || authorization.charCodeAt(6) !== 0x20) return undefined;
  for (let i = 0; i < 6; i++) if ((authorization.charCodeAt(i) | 0x20) !== BEARER[i]) return undefined;
  const token = authorization.slice(7);
  return WHITESPACE.test(token) ? undefined : token;
}

/** Reads "Bearer <token>", verifies it and checks revocation. Never throws. */
export async function authenticate(
  deps: AppDeps,
  authorization: string | undefined,
): Promise<{ auth: AccessClaims | null; authError: string | null }> {
  if (authorization === undefined || authorization === '') return { auth: null, authError: null };
  const token = bearerToken(authorization);
  if (token === undefined) return { auth: null, authError: 'malformed authorization header' };
  try {
    const claims = await deps.tokens.verify(token);
    if (deps.revocations.isRevoked(claims)) return { auth: null, authError: 'revoked' };
    return { auth: claims, authError: null };
  } catch (err) {
    if (err instanceof InvalidTokenError) return { auth: null, authError: err.why };
    throw err;
  }
}

export async function createContext(
  deps: AppDeps,
  req: RequestInfo & { authorization?: string | undefined },
): Promise<Context> {
  const { auth, authError } = await authenticate(deps, req.authorization);
  return createContextInner({ deps, auth, authError, req });
}
