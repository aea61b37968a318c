// A client no one here wrote: @hey-api/openapi-ts generates an axios client from the
// document the server serves (GET /openapi.json), at test time, into tmp/ (never committed),
// and a patient goes the whole way through it alone: register, confirm the address from the
// e-mail a real SMTP server received, accept the privacy notice, log a mood, pay for a plan
// (checkout at the local Razorpay double, its signed webhook), book a therapist, export,
// delete the account. Only the therapist is set up over tRPC (staff onboarding).
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createClient as generateClient } from '@hey-api/openapi-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RAZORPAY_WEBHOOK_PATH } from '../server/http/webhooks.ts';
import { startQueueWorkers } from '../server/jobs/workers.ts';
import { ADMIN_ENV, account } from './accounts.ts';
import { RazorpayDouble } from './razorpay-double.ts';
import { startTestServer, type TestServer } from './server.ts';
import { linkToken, type MailServer, startMailServer } from './support/mail.ts';

/** What a generated SDK function answers with (axios' response, or its error with the body). */
interface Answer {
  status?: number;
  data?: unknown;
  error?: unknown;
  response?: { status: number; headers: Record<string, string> };
}
type Operation = (options: Record<string, unknown>) => Promise<Answer>;
interface Generated {
  sdk: Record<string, Operation>;
  createClient: (config: Record<string, unknown>) => unknown;
  createConfig: (config: Record<string, unknown>) => Record<string, unknown>;
}

/** Generates the client from the served document into a fresh directory under tmp/. */
async function generate(serverUrl: string, dir: string): Promise<Generated> {
  mkdirSync(dir, { recursive: true });
  const input = `${dir}/openapi.json`;
  writeFileSync(input, await (await fetch(`${serverUrl}/openapi.json`)).text());
  await generateClient({
    input,
    output: { path: `${dir}/client` },
    plugins: ['@hey-api/client-axios', '@hey-api/sdk'],
    logs: { level: 'silent' },
  });
  const sdk = (await import(`${dir}/client/sdk.gen.ts`)) as Record<string, Operation>;
  const client = (await import(`${dir}/client/client/index.ts`)) as Pick<
    Generated,
    'createClient' | 'createConfig'
  >;
  return { sdk, ...client };
}

describe('a patient journey through a generated axios client (@hey-api/openapi-ts)', () => {
  let server: TestServer;
  let mail: MailServer;
  let rzp: RazorpayDouble;
  let stopWorkers: () => Promise<void>;
  let gen: Generated;
  const dir = new URL(`../tmp/generated-client-${randomBytes(4).toString('hex')}`, import.meta.url).pathname;

  beforeAll(async () => {
    mail = await startMailServer();
    rzp = await new RazorpayDouble().start();
    server = await startTestServer({
      env: {
        ...mail.env,
        ...rzp.env,
        ...ADMIN_ENV,
        QUEUE_POLL_SECONDS: '0.5',
        APP_URL: 'https://app.manas360.test',
      },
    });
    stopWorkers = await startQueueWorkers(server.deps);
    gen = await generate(server.url, dir);
  }, 120_000);
  afterAll(async () => {
    await stopWorkers?.();
    await server?.close();
    await rzp?.close();
    await mail?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers, confirms, consents, logs a mood, pays, books, exports and deletes the account', async () => {
    let token: string | undefined;
    const client = gen.createClient(gen.createConfig({ baseURL: `${server.url}/api`, auth: () => token }));
    /** A call that must succeed: its JSON answer. */
    const ok = async <T>(name: string, options: Record<string, unknown> = {}): Promise<T> => {
      const operation = gen.sdk[name];
      if (!operation) throw new Error(`the generated client has no ${name}`);
      const answer = await operation({ client, ...options });
      expect(answer.error, `${name}: ${JSON.stringify(answer.error)}`).toBeUndefined();
      expect(answer.status, name).toBe(200);
      return answer.data as T;
    };

    const { version } = await ok<{ version: string }>('privacyNotice');
    const email = `generated-${Date.now().toString(36)}@example.com`;
    const password = 'a generated client password';
    // Registration answers the same whatever the address; the account is pending until the
    // link in the e-mail the SMTP server received is followed.
    expect(
      await ok('authRegister', {
        body: { email, password, name: 'Generated Patient', acceptPrivacyNotice: version },
      }),
    ).toEqual({ email, confirmationSent: true });
    const messages = await mail.waitFor((ms) =>
      ms.some((m) => m.to.includes(email) && /Confirm your email/.test(m.subject)),
    );
    const confirm = messages.find((m) => m.to.includes(email) && /Confirm your email/.test(m.subject))!;
    await ok('authVerifyEmail', { body: { token: linkToken(confirm) } });
    let session = await ok<{ accessToken: string; refreshToken: string }>('authLogin', {
      body: { email, password },
    });
    token = session.accessToken;
    expect((await ok<{ emailVerified: boolean }>('authMe')).emailVerified).toBe(true);

    const accepted = await ok<{ accessToken: string }>('privacyAcceptNotice', { body: { version } });
    token = accepted.accessToken;

    const mood = await ok<{ id: string; score: number }>('moodLog', {
      body: { score: 6, tags: ['hopeful'] },
    });
    expect(mood.score).toBe(6);
    // The error envelope, as the generated client sees it.
    const refused = await gen.sdk.moodLog!({ client, body: { score: 11 } });
    expect(refused.response?.status).toBe(400);
    expect(refused.error).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'score: must be at most 10',
      data: { httpStatus: 400 },
    });

    // Pay for the plan with booking: an order at the double, then its signed webhook.
    const order = await ok<{ orderId: string }>('subscriptionsCheckout', { body: { planCode: 'basic' } });
    const { captured } = rzp.pay(order.orderId);
    expect((await rzp.deliver(`${server.url}${RAZORPAY_WEBHOOK_PATH}`, captured)).status).toBe(200);
    session = await ok('authRefresh', { body: { refreshToken: session.refreshToken } });
    token = session.accessToken;
    expect(await ok('subscriptionsCurrent')).toMatchObject({ plan: 'basic', status: 'active' });

    const therapist = await account(server, 'free', 'therapist');
    const directory = await ok<{ items: { id: string }[] }>('therapistsList', { query: { limit: 50 } });
    expect(directory.items.map((t) => t.id)).toContain(therapist.id);
    const startsAt = new Date(Math.ceil((Date.now() + 2 * 86_400_000) / 3_600_000) * 3_600_000).toISOString();
    const booked = await ok<{ status: string }>('therapyBook', {
      body: { therapistId: therapist.id, startsAt },
    });
    expect(booked.status).toBe('booked');

    // The export streams as a file; the generated client reads it as JSON.
    const exported = await ok<Record<string, unknown>>('exportMine');
    expect(JSON.stringify(exported)).toContain(mood.id);

    const deletion = await ok<{ deletionDueAt: string }>('privacyDeleteAccount', { body: { password } });
    expect(Date.parse(deletion.deletionDueAt)).toBeGreaterThan(Date.now());
    expect(await ok('privacyStatus')).toMatchObject({ deletionDueAt: deletion.deletionDueAt });
  });
});
