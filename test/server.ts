// The real HTTP server for end-to-end and security tests: services on a database of the
// test's own (createTestDeps), the Fastify app (buildServer) on 127.0.0.1 port 0, and a
// real @trpc/client over HTTP. Options are an object so new knobs do not break callers.
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { Logger } from 'pino';
import superjson from 'superjson';
import { buildServer } from '../server/app.ts';
import type { AppDeps } from '../server/services.ts';
import type { AppErrorData } from '../shared/errors.ts';
import type { AppRouter } from '../shared/index.ts';
import type { RegisterInput } from '../shared/inputs/auth.ts';
import { createTestDeps, type DbKind } from './helpers.ts';
import { SoftPasskey } from './support/passkey.ts';
import { registerConfirmedWith } from './support/register.ts';
import { signInWith } from './support/sign-in.ts';

/** Both tRPC HTTP paths: end-to-end suites run against each (`describe.each(TRPC_PATHS)`). */
export const TRPC_PATHS = ['lean', 'official'] as const;
export type TrpcPath = (typeof TRPC_PATHS)[number];

export interface TestServerOptions {
  /** Database kind (default PGlite). */
  kind?: DbKind;
  /** Environment overrides for loadConfig (e.g. JWT_PRIVATE_KEYS, RATE_LIMIT_ENABLED). */
  env?: Record<string, string>;
  /** Which tRPC HTTP path serves /trpc (default: the config default, lean). */
  trpcPath?: TrpcPath;
  /** Replaces the silent test logger (to read what the server logs). */
  log?: Logger;
}

/** A bearer token, or a function read before every request (a client that re-logs in). */
export type TokenSource = string | null | undefined | (() => string | null | undefined);

export interface TestServer {
  /** Base URL, e.g. http://127.0.0.1:40123 (tRPC at `${url}/trpc`). */
  url: string;
  deps: AppDeps;
  /** A typed tRPC client (httpBatchLink + superjson) sending the token as Bearer. */
  client(token?: TokenSource): ReturnType<typeof createTRPCClient<AppRouter>>;
  close(): Promise<void>;
}

export function bearer(token: TokenSource): Record<string, string> {
  const value = typeof token === 'function' ? token() : token;
  return value ? { authorization: `Bearer ${value}` } : {};
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  // TEST_TRPC_PATH runs a whole suite on one path (CI runs the e2e suites on both).
  const trpcPath = opts.trpcPath ?? (process.env.TEST_TRPC_PATH as TrpcPath | undefined);
  const env = { ...(trpcPath ? { TRPC_PATH: trpcPath } : {}), ...opts.env };
  const deps = await createTestDeps(opts.kind ?? 'pglite', env);
  if (opts.log) deps.log = opts.log;
  const app = await buildServer(deps);
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await deps.dispose();
    throw err;
  }
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  let closed = false;
  return {
    url,
    deps,
    client: (token) =>
      createTRPCClient<AppRouter>({
        links: [httpBatchLink({ url: `${url}/trpc`, transformer: superjson, headers: () => bearer(token) })],
      }),
    async close() {
      if (closed) return;
      closed = true;
      // A response a test left unread stays in flight and close() would wait for it for
      // ever: the tests are over, so their connections end now.
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      await deps.dispose();
    },
  };
}

/** What signIn needs of a server: its typed client (a TestServer, or a host of test/support/host.ts). */
type ClientOf = Pick<TestServer, 'client'>;

/** The software passkeys signIn enrolled, per server, by email. */
const passkeys = new WeakMap<ClientOf, Map<string, SoftPasskey>>();

/** The software passkey signIn enrolled for this account (undefined: none). */
export function enrolledPasskey(server: ClientOf, email: string): SoftPasskey | undefined {
  return passkeys.get(server)?.get(email.trim().toLowerCase());
}

/**
 * auth.login as the console does it (test/support/sign-in.ts): staff complete it with a
 * passkey, enrolled on their first sign-in.
 */
export function signIn(server: ClientOf, credentials: { email: string; password: string }) {
  const anon = server.client();
  const mine = passkeys.get(server) ?? new Map<string, SoftPasskey>();
  passkeys.set(server, mine);
  return signInWith(
    {
      login: (c) => anon.auth.login.mutate(c),
      errorData: (err) => (err instanceof TRPCClientError ? (err.data as AppErrorData) : undefined),
      loginOptions: (challengeToken) => anon.auth.mfa.loginOptions.mutate({ challengeToken }),
      completeLogin: (challengeToken, response) =>
        anon.auth.mfa.completeLogin.mutate({ challengeToken, factor: { kind: 'passkey', response } }),
      enrol: (accessToken, passkey) => enrolPasskey(server, accessToken, passkey),
    },
    mine,
    credentials,
  );
}

/**
 * A new patient, registered over HTTP, confirmed and logged in (test/support/register.ts):
 * what auth.register answered before it needed a confirmed address (tokens and user).
 */
export function registerUser(server: ClientOf & Pick<TestServer, 'deps'>, input: RegisterInput) {
  const anon = server.client();
  return registerConfirmedWith(
    { register: (i) => anon.auth.register.mutate(i), login: (c) => anon.auth.login.mutate(c) },
    server.deps.db,
    input,
  );
}

/**
 * Enrols a software passkey for the session of `accessToken` (signed in within 15
 * minutes); the session's new access token, which counts as stepped up (e.g. a patient
 * about to create an API key).
 */
export async function enrolPasskey(server: ClientOf, accessToken: string, passkey = new SoftPasskey()) {
  const api = server.client(accessToken);
  const { enrolmentToken, options } = await api.auth.mfa.passkey.begin.mutate();
  const enrolled = await api.auth.mfa.passkey.confirm.mutate({
    enrolmentToken,
    response: passkey.register(options),
  });
  return enrolled.accessToken;
}

/** Signs in (signIn) and accepts the current privacy notice: a token that passes every gate. */
export async function loginAccepted(server: TestServer, credentials: { email: string; password: string }) {
  const login = await signIn(server, credentials);
  const { version } = await server.client().privacy.notice.query();
  return (await server.client(login.accessToken).privacy.acceptNotice.mutate({ version })).accessToken;
}

/** The JSON body of a raw tRPC call, serialised as the superjson client would. */
export function trpcInput(input: unknown): string {
  return JSON.stringify(superjson.serialize(input));
}

/** True when a response body shows internals a client must never see. */
export function leaksInternals(body: string): boolean {
  return /\bat .+:\d+:\d+|"stack"|\bselect\b.+\bfrom\b|\binsert into\b|\bupdate\b.+\bset\b|params:|Failed query|drizzle|postgres/i.test(
    body,
  );
}

export interface RawRequest {
  method: string;
  /** Sent byte for byte: a fragment, malformed escapes, spaces are not touched. */
  path: string;
  /** A `host` here replaces the real one (e.g. a malformed Host). */
  headers?: Record<string, string>;
  body?: string;
}
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, decompressed when it came gzip- or br-encoded. */
  body: string;
}

/** One HTTP/1.1 request exactly as given, which fetch cannot send (a fragment, a bad Host). */
export function sendRaw(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  const headers = { ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: hostname,
        port,
        method: req.method,
        path: req.path,
        headers,
        setHost: !('host' in headers),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const encoding = raw.length > 0 ? res.headers['content-encoding'] : undefined; // HEAD: no body
          try {
            const body =
              encoding === 'gzip' ? gunzipSync(raw) : encoding === 'br' ? brotliDecompressSync(raw) : raw;
            resolve({ status: res.statusCode!, headers: res.headers, body: body.toString('utf8') });
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}
