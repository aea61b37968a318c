// A typed MANAS360 client, as a web or mobile app would write it. From this project it
// imports TYPES only (`import type` from shared/index.ts), so a client bundle holds no
// server code; at run time it needs just @trpc/client and superjson.
//
// It shows four habits (and registration: register, confirm from the emailed link, log in):
// - log in and send the access token as `Authorization: Bearer …`;
// - on UNAUTHORIZED (expired or revoked access token, e.g. after an admin changed your
//   plan) call auth.refresh once and retry the call with the new token;
// - send every mutation with an `Idempotency-Key` (a UUID made once per call) and retry it
//   with the same key when no answer came (a connection cut, a timeout) or the answer was
//   503: the server returns the first result instead of writing twice (docs/api.md);
//   queries are retried likewise;
// - on FORBIDDEN with `data.reason === 'missing_feature'`, show an upgrade hint naming the
//   cheapest plan that has the feature, instead of a bare 403.
//
// Run against a server: `npx tsx examples/run.ts http://127.0.0.1:3000` (the Node runner;
// this file itself uses no Node API, so a browser app compiles it as it is).
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  retryLink,
  splitLink,
  TRPCClientError,
  type TRPCLink,
} from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter, RouterOutputs } from '../shared/index.ts';

type Plan = RouterOutputs['subscriptions']['plans'][number];
type Me = RouterOutputs['auth']['me'];

export interface Session {
  accessToken: string | null;
  refreshToken: string | null;
}

/** Was this error a FORBIDDEN for a feature the caller's plan lacks? Returns the feature. */
export function missingFeature(err: unknown): string | null {
  if (!(err instanceof TRPCClientError)) return null;
  const data = (err as TRPCClientError<AppRouter>).data;
  return data?.code === 'FORBIDDEN' && data.reason === 'missing_feature' ? (data.required ?? null) : null;
}

/** "upgrade to Basic": the cheapest plan (plans come cheapest first) that has the feature. */
export function upgradeHint(plans: Plan[], feature: string): string {
  const plan = [...plans]
    .sort((a, b) => a.pricePaise - b.pricePaise)
    .find((p) => p.features.includes(feature));
  return plan
    ? `upgrade to ${plan.name} (₹${plan.pricePaise / 100}/month) to use ${feature}`
    : `no plan offers ${feature}`;
}

/** Retries of a call that got no answer or a 503 (each after the server's Retry-After, or 0.5 s × attempt). */
export const MAX_RETRIES = 3;

/** Gives each mutation its Idempotency-Key once, before any retry: every attempt sends the same. */
const idempotencyKeys: TRPCLink<AppRouter> =
  () =>
  ({ op, next }) => {
    if (op.type === 'mutation') op.context.idempotencyKey ??= crypto.randomUUID();
    return next(op);
  };

/**
 * A client whose calls carry the session's access token, refresh it once on UNAUTHORIZED,
 * and retry safely when the answer was lost or the server was unavailable.
 */
export function createApiClient(url: string, session: Session = { accessToken: null, refreshToken: null }) {
  const trpcUrl = `${url.replace(/\/$/, '')}/trpc`;
  // auth.* calls go through a plain client: they carry no access token and never retry,
  // so a refresh cannot wait on itself.
  const authClient = createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: trpcUrl, transformer: superjson })],
  });
  let refreshing: Promise<void> | null = null;
  let refreshes = 0;

  function refresh(): Promise<void> {
    const refreshToken = session.refreshToken;
    if (!refreshToken) return Promise.reject(new Error('not logged in'));
    refreshing ??= authClient.auth.refresh
      .mutate({ refreshToken })
      .then((pair) => {
        session.accessToken = pair.accessToken;
        session.refreshToken = pair.refreshToken;
        refreshes += 1;
      })
      .catch((err) => {
        // The session is over (reused, revoked or expired refresh token): log in again.
        session.accessToken = null;
        session.refreshToken = null;
        throw err;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  const authorization = async () => {
    if (refreshing) await refreshing.catch(() => {});
    return session.accessToken ? { authorization: `Bearer ${session.accessToken}` } : {};
  };
  const api = createTRPCClient<AppRouter>({
    links: [
      idempotencyKeys,
      retryLink({
        retry({ error, attempts }) {
          const expired = error.data?.code === 'UNAUTHORIZED' && attempts === 1 && !!session.refreshToken;
          if (expired) {
            refresh().catch(() => {}); // the retry waits for it in headers()
            return true;
          }
          // No tRPC answer at all (the connection failed or was cut), or 503: safe to send
          // again — a query reads, a mutation carries its Idempotency-Key.
          const unanswered = error.data === undefined || error.data?.code === 'SERVICE_UNAVAILABLE';
          return unanswered && attempts <= MAX_RETRIES;
        },
        retryDelayMs: (attempt) => 500 * attempt,
      }),
      // A mutation goes alone (its own Idempotency-Key header); queries are batched.
      splitLink({
        condition: (op) => op.type === 'mutation',
        true: httpLink({
          url: trpcUrl,
          transformer: superjson,
          async headers({ op }) {
            const key = op.context.idempotencyKey;
            return {
              ...(await authorization()),
              ...(typeof key === 'string' ? { 'idempotency-key': key } : {}),
            };
          },
        }),
        false: httpBatchLink({ url: trpcUrl, transformer: superjson, headers: authorization }),
      }),
    ],
  });

  return {
    api,
    session,
    /** How many times the access token was refreshed after an UNAUTHORIZED. */
    get refreshes() {
      return refreshes;
    },
    /**
     * Registration accepts the privacy notice the user was shown (privacy.notice gives its
     * version). It gives no session and answers the same whether or not the address already
     * has an account: the user is told to open the link emailed to them (an address that has
     * an account is told so by email instead).
     */
    async register(email: string, password: string, name: string) {
      const { version } = await authClient.privacy.notice.query();
      return authClient.auth.register.mutate({ email, password, name, acceptPrivacyNotice: version });
    },
    /**
     * The emailed link opens the app at `/verify-email#token=…` (APP_URL; the token is in the
     * fragment, never sent to a web server): the app passes the token here, and the account
     * is confirmed; the user then logs in (login below).
     */
    async confirm(token: string) {
      await authClient.auth.verifyEmail.mutate({ token });
    },
    /** "Send the link again": the same answer whatever the address. */
    async resendConfirmation(email: string) {
      await authClient.auth.resendConfirmation.mutate({ email });
    },
    async login(email: string, password: string) {
      const res = await authClient.auth.login.mutate({ email, password });
      session.accessToken = res.accessToken;
      session.refreshToken = res.refreshToken;
      return res.user;
    },
    /**
     * Accepts the current privacy notice (after showing it to the user): needed once per
     * notice version before any procedure other than auth.* and privacy.* answers.
     */
    async acceptPrivacyNotice() {
      const { version } = await authClient.privacy.notice.query();
      const res = await api.privacy.acceptNotice.mutate({ version });
      session.accessToken = res.accessToken;
    },
    async logout() {
      if (session.refreshToken) await authClient.auth.logout.mutate({ refreshToken: session.refreshToken });
      session.accessToken = null;
      session.refreshToken = null;
    },
  };
}

export interface ExampleResult {
  me: Me;
  /** The hint shown when booking a therapist on the free plan. */
  hint: string | null;
  lines: string[];
}

/**
 * The walkthrough: sign up (or log in when the account exists), show who we are, try to
 * book a therapist on the free plan and show the upgrade hint instead of an error.
 * `confirmationLink(email)` stands for the user opening the link emailed at registration:
 * it resolves to the link's token (examples/run.ts asks for the link on the terminal).
 */
export async function main(
  url: string,
  opts: {
    email?: string;
    password?: string;
    print?: (line: string) => void;
    confirmationLink?: (email: string) => Promise<string>;
  } = {},
): Promise<ExampleResult> {
  const lines: string[] = [];
  const print = (line: string) => {
    lines.push(line);
    (opts.print ?? console.log)(line);
  };
  const email = opts.email ?? 'example.patient@example.com';
  const password = opts.password ?? 'correct horse battery staple';
  const client = createApiClient(url);

  // Log in; with no such account (UNAUTHORIZED), register, confirm from the email, log in.
  // (Registering answers the same for a taken address, and a login before the confirmation
  // fails as a wrong password does: the API does not disclose membership.)
  try {
    await client.login(email, password);
    print(`logged in as ${email}`);
  } catch (err) {
    if (!(err instanceof TRPCClientError && err.data?.code === 'UNAUTHORIZED')) throw err;
    if (!opts.confirmationLink) throw err;
    await client.register(email, password, 'Example Patient');
    print(`registered ${email}: confirm with the link emailed to it`);
    await client.confirm(await opts.confirmationLink(email));
    await client.login(email, password);
    print(`confirmed and logged in as ${email}`);
  }

  const me = await client.api.auth.me.query();
  print(`${me.email}: role ${me.role}, plan ${me.plan}, features ${me.features.join(', ')}`);

  let hint: string | null = null;
  const nextHour = new Date(Math.ceil((Date.now() + 3_600_000) / 3_600_000) * 3_600_000);
  try {
    await client.api.therapy.book.mutate({
      therapistId: '00000000-0000-4000-8000-000000000000',
      startsAt: nextHour,
    });
    print('booked a session');
  } catch (err) {
    const feature = missingFeature(err);
    if (!feature) throw err;
    hint = upgradeHint(await client.api.subscriptions.plans.query(), feature);
    print(`cannot book yet: ${hint}`);
  }
  return { me, hint, lines };
}
