// Password recovery, confirmed addresses and registration that does not reveal membership,
// over HTTP against a real SMTP server process (test/support/mail.ts): every link is read
// from a message the SMTP server received.
import { TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../db/client.ts';
import { ADMIN_ENV, adminAccount } from './accounts.ts';
import { NOTICE } from './helpers.ts';
import { bearer, registerUser, type TestServer } from './server.ts';
import { linkToken, type MailServer, type ReceivedMail } from './support/mail.ts';
import { type MailedServer, startMailedServer } from './support/mailed-server.ts';

let mail: MailServer;
let server: TestServer;
let running: MailedServer | undefined;
let n = 0;

beforeAll(async () => {
  running = await startMailedServer({
    ...ADMIN_ENV,
    TRUST_PROXY: 'true',
    APP_URL: 'https://app.manas360.test',
  });
  ({ mail, server } = running);
}, 90_000);
afterAll(async () => {
  await running?.close();
});

const PASSWORD = 'a long enough password';
/** A client whose requests come from their own address (TRUST_PROXY: X-Forwarded-For). */
const from = (ip: string, token?: string) => (path: string, body: unknown) =>
  fetch(`${server.url}/api/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...bearer(token) },
    body: JSON.stringify(body),
  });

/**
 * An active account signed in (registerUser: registered, confirmed in the database) whose
 * address is not confirmed: as accounts from before registration needed the link.
 */
async function register(email = `u${++n}-${Date.now().toString(36)}@example.com`) {
  const reg = await registerUser(server, {
    email,
    password: PASSWORD,
    name: `User ${n}`,
    acceptPrivacyNotice: NOTICE,
  });
  return { email, reg };
}

const mailTo = (to: string, subject?: RegExp) => (m: ReceivedMail) =>
  m.to.includes(to) && (!subject || subject.test(m.subject));
async function waitMail(to: string, subject: RegExp, count = 1): Promise<ReceivedMail[]> {
  const all = await mail.waitFor((ms) => ms.filter(mailTo(to, subject)).length >= count);
  return all.filter(mailTo(to, subject));
}

describe('password recovery', () => {
  it('a user who forgot their password gets back in through the emailed link; every session ends', async () => {
    const { email, reg } = await register();
    const oldApi = server.client(reg.accessToken);
    expect((await oldApi.auth.me.query()).id).toBe(reg.user.id);

    const res = await from('10.0.0.1')('auth/requestPasswordReset', { email: email.toUpperCase() });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    const [resetMail] = await waitMail(email, /Reset your MANAS360 password/);
    expect(resetMail!.text).toContain('https://app.manas360.test/reset-password#token=');
    expect(resetMail!.html).toContain('https://app.manas360.test/reset-password#token=');
    const token = linkToken(resetMail!);
    // Only the hash is stored.
    const stored = await queryRows(
      server.deps.db,
      z.object({ token_hash: z.string() }),
      sql`SELECT token_hash FROM account_tokens`,
    );
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.some((r) => r.token_hash.includes(token))).toBe(false);

    const reset = await from('10.0.0.1')('auth/resetPassword', {
      token,
      newPassword: 'my brand new password',
    });
    expect(reset.status).toBe(200);
    // Single use.
    const again = await from('10.0.0.1')('auth/resetPassword', {
      token,
      newPassword: 'yet another password',
    });
    expect(again.status).toBe(400);
    expect((await again.json()).message).toMatch(/invalid or has expired/);

    // Every session ended: the old access token and refresh token are refused.
    await expect(oldApi.auth.me.query()).rejects.toThrow(/Invalid or expired access token/);
    await expect(server.client().auth.refresh.mutate({ refreshToken: reg.refreshToken })).rejects.toThrow();
    await expect(server.client().auth.login.mutate({ email, password: PASSWORD })).rejects.toThrow(
      /Invalid email or password/,
    );
    const login = await server.client().auth.login.mutate({ email, password: 'my brand new password' });
    // The link reached the address: it counts as confirmed.
    expect((await server.client(login.accessToken).auth.me.query()).emailVerified).toBe(true);
    await waitMail(email, /password was changed/);
  });

  it('answers an unknown address exactly as a known one, and sends nothing', async () => {
    const { email } = await register();
    const unknown = `nobody-${Date.now()}@example.com`;
    const a = await from('10.0.1.1')('auth/requestPasswordReset', { email });
    const b = await from('10.0.1.2')('auth/requestPasswordReset', { email: unknown });
    expect([a.status, await a.text()]).toEqual([b.status, await b.text()]);
    await waitMail(email, /Reset your/);
    expect((await mail.messages()).filter(mailTo(unknown))).toHaveLength(0);
  });

  it('sends nothing to a suspended account, and its pending link stops working', async () => {
    const { email, reg } = await register();
    await from('10.0.2.1')('auth/requestPasswordReset', { email });
    const token = linkToken((await waitMail(email, /Reset your/))[0]!);
    await server.deps.db.execute(sql`UPDATE users SET status = 'suspended' WHERE id = ${reg.user.id}`);
    const res = await from('10.0.2.1')('auth/resetPassword', { token, newPassword: 'my brand new password' });
    expect(res.status).toBe(400);
    await from('10.0.2.1')('auth/requestPasswordReset', { email });
    // The worker has handled the second request (the queue is empty) and sent nothing more.
    await expectQueueDrained();
    expect((await mail.messages()).filter(mailTo(email, /Reset your/))).toHaveLength(1);
  });

  it('refuses an expired link (30 minutes)', async () => {
    const { email } = await register();
    await from('10.0.3.1')('auth/requestPasswordReset', { email });
    const token = linkToken((await waitMail(email, /Reset your/))[0]!);
    const ttl = await queryRows(
      server.deps.db,
      z.object({ s: z.number() }),
      sql`SELECT extract(epoch FROM expires_at - created_at)::float8 AS s FROM account_tokens
          WHERE purpose = 'password_reset' AND email = ${email}`,
    );
    expect(ttl).toEqual([{ s: 1800 }]);
    await server.deps.db.execute(
      sql`UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE purpose = 'password_reset' AND email = ${email}`,
    );
    const res = await from('10.0.3.1')('auth/resetPassword', { token, newPassword: 'my brand new password' });
    expect(res.status).toBe(400);
  });

  it('limits requests per address (3 an hour) and per IP (20 an hour)', async () => {
    const email = `limited-${Date.now()}@example.com`;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await from(`10.0.4.${i}`)('auth/requestPasswordReset', { email })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const ip = from('10.0.5.1');
    const perIp: number[] = [];
    for (let i = 0; i < 21; i++)
      perIp.push(
        (await ip('auth/requestPasswordReset', { email: `ip${i}-${Date.now()}@example.com` })).status,
      );
    expect(perIp.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(perIp[20]).toBe(429);
  });
});

describe('confirmed addresses', () => {
  it('an address not confirmed gets a link; until it is followed, no export, checkout or API key', async () => {
    const { email, reg } = await register();
    // On a plan with data export and API access, so only the address stands in the way.
    const root = (await adminAccount(server)).api;
    await root.admin.users.setPlan.mutate({ userId: reg.user.id, planCode: 'enterprise' });
    const planned = await server.client().auth.refresh.mutate({ refreshToken: reg.refreshToken });
    const api = server.client(planned.accessToken);
    expect((await api.auth.me.query()).emailVerified).toBe(false);
    const exported = await fetch(`${server.url}/export`, { headers: bearer(planned.accessToken) });
    expect(exported.status).toBe(403);
    expect(await exported.text()).toContain('email_unverified');
    const unverified = (e: unknown) => e instanceof TRPCClientError && e.data?.reason === 'email_unverified';
    await expect(api.subscriptions.checkout.mutate({ planCode: 'basic' })).rejects.toSatisfy(unverified);
    await expect(api.apiKeys.create.mutate({ name: 'sync', scopes: ['mood.read'] })).rejects.toSatisfy(
      unverified,
    );

    const [verify] = await waitMail(email, /Confirm your email address/);
    expect(verify!.text).toContain('https://app.manas360.test/verify-email#token=');
    const res = await from('10.1.0.1')('auth/verifyEmail', { token: linkToken(verify!) });
    expect(res.status).toBe(200);
    // The next token says so (auth.refresh reads the claims again).
    const pair = await server.client().auth.refresh.mutate({ refreshToken: planned.refreshToken });
    expect((await server.client(pair.accessToken).auth.me.query()).emailVerified).toBe(true);
    expect((await fetch(`${server.url}/export`, { headers: bearer(pair.accessToken) })).status).toBe(200);
    // The link works once.
    expect((await from('10.1.0.1')('auth/verifyEmail', { token: linkToken(verify!) })).status).toBe(400);
  });

  it('users.changeEmail: password again, the new address confirmed before it takes effect, the old one told', async () => {
    const { email, reg } = await register();
    const api = server.client(reg.accessToken);
    const newEmail = `moved-${Date.now()}@example.com`;
    await expect(api.users.changeEmail.mutate({ password: 'wrong password!', newEmail })).rejects.toThrow(
      /Password is incorrect/,
    );
    expect(await api.users.changeEmail.mutate({ password: PASSWORD, newEmail })).toEqual({ ok: true });
    const [notice] = await waitMail(email, /being changed/);
    expect(notice!.text).toContain(newEmail);
    const [verify] = await waitMail(newEmail, /Confirm your email address/);
    // Not yet: the old address still signs in, the new one does not.
    await server.client().auth.login.mutate({ email, password: PASSWORD });
    await expect(
      server.client().auth.login.mutate({ email: newEmail, password: PASSWORD }),
    ).rejects.toThrow();
    expect((await from('10.1.1.1')('auth/verifyEmail', { token: linkToken(verify!) })).status).toBe(200);
    const login = await server.client().auth.login.mutate({ email: newEmail, password: PASSWORD });
    const me = await server.client(login.accessToken).auth.me.query();
    expect(me).toMatchObject({ email: newEmail, emailVerified: true });
    await expect(server.client().auth.login.mutate({ email, password: PASSWORD })).rejects.toThrow();
  });
});

describe('registration does not reveal membership (issue 32, finding 10)', () => {
  const registration = (email: string, password = PASSWORD) => ({
    email,
    password,
    name: 'New Person',
    acceptPrivacyNotice: NOTICE,
  });
  const fresh = () => `new${++n}-${Date.now().toString(36)}@example.com`;

  it('a new user: register → the emailed link → verifyEmail → login, through the real SMTP server', async () => {
    const email = fresh();
    const res = await from('10.2.0.1')('auth/register', registration(email));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ email, confirmationSent: true });
    // Pending: the right password is refused as a wrong one is.
    const early = await from('10.2.0.1')('auth/login', { email, password: PASSWORD });
    expect(early.status).toBe(401);
    expect((await early.json()).message).toBe('Invalid email or password');
    const [verify] = await waitMail(email, /Confirm your email address/);
    expect(verify!.text).toContain('https://app.manas360.test/verify-email#token=');
    const confirmed = await from('10.2.0.1')('auth/verifyEmail', { token: linkToken(verify!) });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.json()).toEqual({ ok: true }); // no session: the client logs in
    const login = await server.client().auth.login.mutate({ email, password: PASSWORD });
    expect(await server.client(login.accessToken).auth.me.query()).toMatchObject({
      email,
      role: 'patient',
      emailVerified: true,
    });
  });

  it('answers a taken and a new address alike, then and after; the owner of the taken one is emailed', async () => {
    const { email: taken } = await register();
    const other = fresh();
    const attempt = async (email: string, ip: string) => {
      const reg = await from(ip)('auth/register', registration(email.toUpperCase(), 'the attacker password'));
      const login = await from(ip)('auth/login', { email, password: 'the attacker password' });
      const resend = await from(ip)('auth/resendConfirmation', { email });
      const body = (await reg.text()).replace(email.toLowerCase(), '<address>');
      return [reg.status, body, login.status, await login.text(), resend.status, await resend.text()];
    };
    expect(await attempt(taken, '10.2.1.1')).toEqual(await attempt(other, '10.2.1.2'));
    const [exists] = await waitMail(taken, /already have a MANAS360 account/);
    expect(exists!.text).toContain('reset-password#token=');
    await waitMail(other, /Confirm your email address/, 2); // the registration's, the resend's
    const rows = await queryRows(
      server.deps.db,
      z.object({ n: z.number() }),
      sql`SELECT count(*)::int AS n FROM users WHERE lower(email) = ${taken}`,
    );
    expect(rows).toEqual([{ n: 1 }]);
  });

  it('registering a pending address again replaces it: only the latest link confirms', async () => {
    const email = fresh();
    await from('10.2.2.1')('auth/register', registration(email, 'the first password'));
    const [first] = await waitMail(email, /Confirm your email address/);
    await from('10.2.2.2')('auth/register', registration(email, 'the second password'));
    const links = await waitMail(email, /Confirm your email address/, 2);
    const second = links.find((m) => linkToken(m) !== linkToken(first!))!;
    expect((await from('10.2.2.1')('auth/verifyEmail', { token: linkToken(first!) })).status).toBe(400);
    expect((await from('10.2.2.2')('auth/verifyEmail', { token: linkToken(second) })).status).toBe(200);
    await expect(
      server.client().auth.login.mutate({ email, password: 'the first password' }),
    ).rejects.toThrow(/Invalid email or password/);
    await server.client().auth.login.mutate({ email, password: 'the second password' });
  });
});

async function expectQueueDrained() {
  for (let i = 0; i < 600; i++) {
    const q = await server.deps.queue.figures();
    if (q.every((f) => f.queued === 0 && f.active === 0)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the queue did not drain');
}
