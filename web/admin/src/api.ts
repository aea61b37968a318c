// The console's tRPC clients. The access token lives in this module's memory only; the
// refresh token is an HttpOnly cookie that only /auth/session/* receives, so a reload
// resumes the session without any token in storage a page script could read
// (docs/decisions/admin-console-session.md).
import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
} from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { EventSource } from 'eventsource';
import superjson from 'superjson';
import { FACTOR_REQUIRED_PERMISSIONS } from '../../../shared/catalog.ts';
import type { AppErrorData } from '../../../shared/errors.ts';
import type { AppRouter, RouterInputs, RouterOutputs, SessionRouter } from '../../../shared/index.ts';

export type Me = RouterOutputs['auth']['me'];
export type SessionState =
  | { status: 'loading' }
  | { status: 'signedOut'; message?: string }
  // Signed in, but the current privacy notice is not accepted: the API refuses every other
  // procedure (FORBIDDEN privacy_notice_required) until privacy.acceptNotice.
  | { status: 'consent'; me: Me; notice: string }
  // The password was right; the account has a second factor: sign-in step 2.
  | { status: 'factor'; challengeToken: string; factors: string[] }
  // Signed in with a password only, and the role needs a second factor: enrolment.
  | { status: 'enrol'; me: Me }
  | { status: 'signedIn'; me: Me };

let accessToken: string | null = null;
let expiresAt = 0;
let state: SessionState = { status: 'loading' };
const listeners = new Set<() => void>();

function setState(next: SessionState) {
  state = next;
  for (const l of listeners) l();
}
export const session = {
  get: () => state,
  subscribe(listener: () => void) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

const sessionClient = createTRPCClient<SessionRouter>({
  links: [
    httpLink({
      url: '/auth/session',
      transformer: superjson,
      // The session procedures refuse a request without it (CSRF defence).
      headers: { 'x-manas360-csrf': '1' },
    }),
  ],
});

/** Refreshes the access token 30 s before it expires. */
async function currentToken(): Promise<string | null> {
  if (accessToken && Date.now() > expiresAt - 30_000) await refresh();
  return accessToken;
}

const bearerHeaders = async (): Promise<Record<string, string>> => {
  const token = await currentToken();
  return token ? { authorization: `Bearer ${token}` } : {};
};

export const api = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      // Subscriptions (the crisis queue) over server-sent events. The `eventsource` package,
      // not the browser's EventSource: its fetch sends the bearer token as a header (the
      // browser's would need the token in the URL), read afresh at every reconnect.
      true: httpSubscriptionLink({
        url: '/trpc',
        transformer: superjson,
        EventSource,
        eventSourceOptions: () => ({
          fetch: async (input, init) =>
            fetch(input, { ...init, headers: { ...init.headers, ...(await bearerHeaders()) } }),
        }),
      }),
      false: httpBatchLink({ url: '/trpc', transformer: superjson, headers: bearerHeaders }),
    }),
  ],
});

function keep(result: { accessToken: string; expiresIn: number }) {
  accessToken = result.accessToken;
  expiresAt = Date.now() + result.expiresIn * 1000;
}

/** Who is signed in, and the notice in force (one batched request). */
async function loadMe(): Promise<void> {
  const [me, notice] = await Promise.all([api.auth.me.query(), api.privacy.notice.query()]);
  const needsFactor =
    !me.amr.includes('mfa') &&
    me.permissions.some((p) => (FACTOR_REQUIRED_PERMISSIONS as string[]).includes(p));
  setState(
    me.privacyNotice !== notice.version
      ? { status: 'consent', me, notice: notice.version }
      : needsFactor
        ? { status: 'enrol', me }
        : { status: 'signedIn', me },
  );
}

/** A factor enrolled (or verified): the session's new access token, then the console. */
export async function upgraded(result: { accessToken: string; expiresIn: number }): Promise<void> {
  keep(result);
  queryClient.clear();
  await loadMe();
}

/** Accepts the notice shown; the new access token carries the acceptance. */
export async function acceptNotice(version: string): Promise<void> {
  keep(await api.privacy.acceptNotice.mutate({ version }));
  queryClient.clear();
  await loadMe();
}

let refreshing: Promise<boolean> | null = null;
/** One refresh at a time (the cookie's token rotates on each use). False: no session. */
export function refresh(): Promise<boolean> {
  refreshing ??= sessionClient.refresh
    .mutate()
    .then(
      (r) => {
        keep(r);
        return true;
      },
      () => {
        accessToken = null;
        return false;
      },
    )
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** At start: resume the session of the cookie, if any. */
export async function resume(): Promise<void> {
  if (await refresh()) await loadMe().catch(() => setState({ status: 'signedOut' }));
  else setState({ status: 'signedOut' });
}

export async function signIn(email: string, password: string): Promise<void> {
  try {
    keep(await sessionClient.login.mutate({ email, password }));
  } catch (err) {
    const data = err instanceof TRPCClientError ? (err.data as AppErrorData | undefined) : undefined;
    if (data?.reason !== 'mfa_required' || !data.challengeToken) throw err;
    setState({ status: 'factor', challengeToken: data.challengeToken, factors: data.factors ?? [] });
    return;
  }
  await loadMe();
}

/** A factor presented to sign in or step up: a code (TOTP or recovery) or a passkey's response. */
export type FactorProof = RouterInputs['auth']['mfa']['verify']['factor'];
export type CodeProof = Exclude<FactorProof, { kind: 'passkey' }>;

/** A code as typed: six digits are a TOTP code, anything else a recovery code. */
export function codeProof(typed: string): CodeProof {
  const code = typed.trim();
  return /^\d{6}$/.test(code) ? { kind: 'totp', code } : { kind: 'recovery', code };
}

/** Sign-in step 2 with a code (TOTP or recovery) or a passkey. */
export async function completeSignIn(challengeToken: string, factor: FactorProof): Promise<void> {
  keep(await sessionClient.completeLogin.mutate({ challengeToken, factor }));
  await loadMe();
}

/**
 * Step-up: a factor verified again (a passkey with the ceremony token of its options); the
 * session's new access token carries auth_time now.
 */
export async function stepUp(factor: FactorProof, ceremonyToken?: string): Promise<void> {
  await upgraded(await api.auth.mfa.verify.mutate(ceremonyToken ? { factor, ceremonyToken } : { factor }));
}

/** The passkey request options of the sign-in challenge. */
export const signInPasskeyOptions = (challengeToken: string) =>
  sessionClient.loginOptions.mutate({ challengeToken });

export async function signOut(message?: string): Promise<void> {
  accessToken = null;
  await sessionClient.logout.mutate().catch(() => {});
  queryClient.clear();
  setState(message ? { status: 'signedOut', message } : { status: 'signedOut' });
}

/** An UNAUTHORIZED answer: refresh once; no session left → the sign-in page. */
async function onUnauthorized() {
  if (await refresh()) {
    await loadMe().catch(() => {});
    void queryClient.invalidateQueries();
  } else if (state.status === 'signedIn') await signOut('Your session ended. Sign in again.');
}

export function errorCode(error: unknown): string | undefined {
  return error instanceof TRPCClientError ? (error.data as { code?: string } | undefined)?.code : undefined;
}

/** Why the API refused a call (error.data.reason: step_up_required, privacy_notice_required…). */
export function reasonOf(error: unknown): string | undefined {
  return error instanceof TRPCClientError ? (error.data as AppErrorData | undefined)?.reason : undefined;
}

/** A new notice came into force during the session: ask for it again. */
const noticeRequired = (error: unknown) => reasonOf(error) === 'privacy_notice_required';

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (count, error) => count < 2 && errorCode(error) === undefined,
      refetchOnWindowFocus: false,
    },
  },
  queryCache: new QueryCache({
    onError: (error) => {
      if (errorCode(error) === 'UNAUTHORIZED') void onUnauthorized();
      else if (noticeRequired(error)) void loadMe().catch(() => {});
    },
  }),
  mutationCache: new MutationCache({
    onError: (error) => {
      if (noticeRequired(error)) void loadMe().catch(() => {});
    },
  }),
});

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();
export type { RouterInputs, RouterOutputs } from '../../../shared/index.ts';
