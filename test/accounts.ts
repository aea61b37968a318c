// Accounts on a chosen plan and role for end-to-end tests over HTTP: registered through
// the API (and confirmed: registerUser), re-planned by the superadmin (admin.users.setPlan/setRole), then logged in
// again so the token carries the new claims.
import { TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { onQuery } from '../db/client.ts';
import type { PlanCode } from '../shared/catalog.ts';
import type { AppRouter } from '../shared/index.ts';
import { NOTICE } from './helpers.ts';
import { bearer, enrolPasskey, loginAccepted, registerUser, signIn, type TestServer } from './server.ts';

export const ADMIN = { email: 'root@example.com', password: 'a superadmin password' };
export const ADMIN_ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };
export const PASSWORD = 'a long enough password';

export interface Account {
  id: string;
  email: string;
  token: string;
  api: ReturnType<TestServer['client']>;
}

let n = 0;

export async function adminAccount(server: TestServer): Promise<Account> {
  const token = await loginAccepted(server, ADMIN);
  const api = server.client(token);
  return { id: (await api.auth.me.query()).id, email: ADMIN.email, token, api };
}

/**
 * A new user on `plan` (and `role`, default patient), with a fresh token; staff sign in with
 * a passkey (signIn). `factor`: a patient enrols one too, so the token counts as stepped up
 * (API-key creation needs that).
 */
export async function account(
  server: TestServer,
  plan: PlanCode,
  role: 'patient' | 'therapist' | 'admin' = 'patient',
  opts: { factor?: boolean } = {},
): Promise<Account> {
  n += 1;
  const email = `user${n}-${Date.now().toString(36)}@example.com`;
  const reg = await registerUser(server, {
    email,
    password: PASSWORD,
    name: `User ${n}`,
    acceptPrivacyNotice: NOTICE,
  });
  // The address counts as confirmed (payments, export and API keys need it); the link
  // itself is tested in test/account-email.test.ts.
  await server.deps.db.execute(sql`UPDATE users SET email_verified_at = now() WHERE id = ${reg.user.id}`);
  if (plan !== 'free' || role !== 'patient') {
    const root = (await adminAccount(server)).api;
    if (plan !== 'free') await root.admin.users.setPlan.mutate({ userId: reg.user.id, planCode: plan });
    if (role !== 'patient') await root.admin.users.setRole.mutate({ userId: reg.user.id, role });
  }
  const login = await signIn(server, { email, password: PASSWORD });
  const token =
    opts.factor && role === 'patient' ? await enrolPasskey(server, login.accessToken) : login.accessToken;
  return { id: reg.user.id, email, token, api: server.client(token) };
}

/** The SQL statements the server ran while `fn` did its requests. */
export async function serverQueries<T>(fn: () => Promise<T>): Promise<{ result: T; queries: number }> {
  let queries = 0;
  const stop = onQuery((scope) => {
    // Not a timer's resync or poll (inBackground): the statements requests make.
    if (!scope?.background) queries += 1;
  });
  try {
    return { result: await fn(), queries };
  } finally {
    stop();
  }
}

/** GET a download route with the account's token. */
export function download(server: TestServer, path: string, token?: string): Promise<Response> {
  return fetch(`${server.url}${path}`, { headers: bearer(token) });
}

/** The error a call rejected with, as a typed client error (fails the test if it resolved). */
export async function failure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  return err as TRPCClientError<AppRouter>;
}
