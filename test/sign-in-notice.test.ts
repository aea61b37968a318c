// The new-device sign-in notice end to end (issue 28; docs/decisions/staff-mfa.md): a staff
// member signing in with a factor from a user agent none of their sessions used gets the
// newDeviceSignIn email, through the job queue and a worker, from a real SMTP server
// process (test/support/mail.ts), in their language; a known device and a patient get none.
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import type { AppErrorData } from '../shared/errors.ts';
import type { AppRouter } from '../shared/index.ts';
import { NOTICE } from './helpers.ts';
import { registerUser, type TestServer } from './server.ts';
import type { MailServer, ReceivedMail } from './support/mail.ts';
import { type MailedServer, startMailedServer } from './support/mailed-server.ts';
import { rfc6238 } from './support/totp.ts';

let mail: MailServer;
let server: TestServer;
let running: MailedServer | undefined;
let n = 0;

beforeAll(async () => {
  running = await startMailedServer({ TRUST_PROXY: 'true' });
  ({ mail, server } = running);
}, 90_000);
afterAll(async () => {
  await running?.close();
});

const PASSWORD = 'a long enough password';
const LAPTOP = { ip: '10.28.0.1', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Laptop/1.0' };
const PHONE = { ip: '10.28.0.2', userAgent: 'Mozilla/5.0 (Linux; Android 14) Phone/2.0' };

/** A client on a device: its user agent and (TRUST_PROXY) its address. */
const on = (device: { ip: string; userAgent: string }, token?: string) =>
  createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${server.url}/trpc`,
        transformer: superjson,
        headers: {
          'user-agent': device.userAgent,
          'x-forwarded-for': device.ip,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      }),
    ],
  });

/** A user of `role` (set by SQL, as an admin would) with `language`, TOTP enrolled on the laptop. */
async function staff(role: 'therapist' | 'patient', language: string | null) {
  const email = `notice${++n}-${Date.now().toString(36)}@example.com`;
  const reg = await registerUser(server, {
    email,
    password: PASSWORD,
    name: `Staff ${n}`,
    acceptPrivacyNotice: NOTICE,
  });
  await server.deps.db.execute(
    sql`UPDATE users SET language = ${language}, role_id = (SELECT id FROM roles WHERE name = ${role})
        WHERE id = ${reg.user.id}`,
  );
  const login = await on(LAPTOP).auth.login.mutate({ email, password: PASSWORD });
  const api = on(LAPTOP, login.accessToken);
  const begun = await api.auth.mfa.totp.begin.mutate();
  const enrolled = await api.auth.mfa.totp.confirm.mutate({
    enrolmentToken: begun.enrolmentToken,
    code: rfc6238(begun.secret, Date.now()),
  });
  return { email, codes: enrolled.recoveryCodes! };
}

/** Password, then a recovery code, from `device`. */
async function signIn(device: typeof LAPTOP, email: string, code: string) {
  const err = await on(device)
    .auth.login.mutate({ email, password: PASSWORD })
    .then(
      () => null,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(TRPCClientError);
  const data = (err as TRPCClientError<AppRouter>).data as AppErrorData;
  expect(data.reason).toBe('mfa_required');
  return on(device).auth.mfa.completeLogin.mutate({
    challengeToken: data.challengeToken!,
    factor: { kind: 'recovery', code },
  });
}

/** newDeviceSignIn jobs queued for `to` (the queue's own table). */
async function noticesQueued(to: string): Promise<number> {
  const [row] = await queryRows(
    server.deps.db,
    z.object({ n: z.number() }),
    sql`SELECT count(*)::int AS n FROM pgboss.job
        WHERE name = 'email' AND data->>'to' = ${to} AND data->>'template' = 'newDeviceSignIn'`,
  );
  return row!.n;
}

const noticeTo = (to: string) => (m: ReceivedMail) => m.to.includes(to) && /sign-in|साइन-इन/.test(m.subject);

describe('new-device sign-in notice by email', () => {
  it('a staff sign-in from a new device is emailed; the known device is not', async () => {
    const s = await staff('therapist', null);
    await signIn(PHONE, s.email, s.codes[0]!);
    const [notice] = (await mail.waitFor((ms) => ms.some(noticeTo(s.email)))).filter(noticeTo(s.email));
    expect(notice!.subject).toBe('New sign-in to your MANAS360 staff account');
    expect(notice!.text).toContain(PHONE.userAgent);
    expect(notice!.text).toContain(PHONE.ip);
    expect(notice!.text).not.toContain(LAPTOP.userAgent);
    // The laptop enrolled the factor: a sign-in there is no news; the phone's second neither.
    await signIn(LAPTOP, s.email, s.codes[1]!);
    await signIn(PHONE, s.email, s.codes[2]!);
    expect(await noticesQueued(s.email)).toBe(1);
  });

  it("is written in the staff member's language", async () => {
    const s = await staff('therapist', 'hi');
    await signIn(PHONE, s.email, s.codes[0]!);
    const [notice] = (await mail.waitFor((ms) => ms.some(noticeTo(s.email)))).filter(noticeTo(s.email));
    expect(notice!.subject).toBe('आपके MANAS360 स्टाफ खाते में नया साइन-इन');
    expect(notice!.text).toContain(PHONE.ip);
  });

  it('a patient with a factor signing in from a new device gets no notice', async () => {
    const p = await staff('patient', null);
    await signIn(PHONE, p.email, p.codes[0]!);
    expect(await noticesQueued(p.email)).toBe(0);
  });
});
