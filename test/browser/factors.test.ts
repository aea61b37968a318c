/// <reference lib="dom" />
// TOTP, recovery codes, sessions and factor management in the console, in a real browser
// (Debian's Chromium through playwright-core) against the real server: a therapist enrols an
// authenticator app from the secret shown beside the QR code, signs in with a code computed
// here from that secret (RFC 6238, test/support/totp.ts), then with a recovery code (once);
// on a 390 px wide screen lists their sessions and ends another device's, whose refresh then
// fails; renames a factor, is refused removing the last one (the server's reason shown), gets
// new recovery codes, is asked to step up when the session's factor is older than 15 minutes,
// adds a second factor and removes the first. axe-core checks each page; no CSP violation.
// Screenshots go to tmp/screenshots (not committed). Passkeys: test/browser/mfa.test.ts.
import { mkdirSync } from 'node:fs';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { sql } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../../db/client.ts';
import { buildConsole, consoleIsStale } from '../../scripts/build-console.ts';
import type { AppErrorData } from '../../shared/errors.ts';
import type { AppRouter } from '../../shared/index.ts';
import { NOTICE, REAL_DATABASE_URL } from '../helpers.ts';
import { registerUser, startTestServer, type TestServer } from '../server.ts';
import { rfc6238 } from '../support/totp.ts';
import { axeViolations, type Browser, haveChromium, launchChromium } from './chromium.ts';

const SCREENSHOTS = 'tmp/screenshots';
const PASSWORD = 'therapist-password-2';
const PHONE_UA =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36';

describe.skipIf(!haveChromium)('TOTP, recovery codes, sessions and factors in the console (Chromium)', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  // The therapist the tests follow, their TOTP secret and recovery codes.
  const email = `therapist.totp.${Date.now().toString(36)}@example.test`;
  let userId: string;
  let secret: string;
  let codes: string[];

  beforeAll(async () => {
    if (consoleIsStale()) await buildConsole();
    server = await startTestServer({ kind: REAL_DATABASE_URL ? 'postgres' : 'pglite' });
    browser = await launchChromium();
    page = browser.page;
    mkdirSync(SCREENSHOTS, { recursive: true });
    const reg = await registerUser(server, {
      email,
      password: PASSWORD,
      name: 'Dr Totp',
      acceptPrivacyNotice: NOTICE,
    });
    userId = reg.user.id;
    await server.deps.db.execute(
      sql`UPDATE users SET role_id = (SELECT id FROM roles WHERE name = 'therapist') WHERE id = ${userId}`,
    );
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const heading = (name: string) => page.getByRole('heading', { level: 1, name, exact: true });
  const nav = (label: string) =>
    page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: label });
  async function check(name: string) {
    const { severe } = await axeViolations(page, name);
    expect(severe).toEqual([]);
    await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
  }
  async function password() {
    await page.goto(`${server.url}/admin/`);
    await heading('MANAS360 admin').waitFor();
    await page.getByLabel('Email').fill(email);
    await page.locator('input[type=password]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  /** Sign-in step 2 with a code typed into the console's one field. */
  async function secondStep(code: string) {
    await heading('Second factor').waitFor();
    await page.getByLabel('Code from your authenticator app, or a recovery code').fill(code);
    await page.getByRole('button', { name: 'Verify code' }).click();
  }
  async function signOut() {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('MANAS360 admin').waitFor();
  }
  /** The API's sign-in from another device: password, then a recovery code. */
  async function signInElsewhere(code: string, userAgent = PHONE_UA) {
    const phone = createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url: `${server.url}/trpc`,
          transformer: superjson,
          headers: { 'user-agent': userAgent },
        }),
      ],
    });
    const refused = await phone.auth.login.mutate({ email, password: PASSWORD }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TRPCClientError);
    const { challengeToken } = (refused as TRPCClientError<AppRouter>).data as AppErrorData;
    return phone.auth.mfa.completeLogin.mutate({
      challengeToken: challengeToken!,
      factor: { kind: 'recovery', code },
    });
  }

  it('enrols an authenticator app from the shown secret, signs in with a TOTP code, then with a recovery code (once)', async () => {
    await password();
    await heading('Set up a second factor').waitFor();
    await page.getByRole('button', { name: 'Use an authenticator app' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await page.getByLabel('Code from the app').fill(rfc6238(secret, Date.now()));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await heading('Second factor added').waitFor();
    codes = (
      await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allTextContents()
    ).map((c) => c.trim());
    expect(codes).toHaveLength(10);
    await page.getByRole('button', { name: 'Continue' }).click();
    await heading('Crisis queue').waitFor();
    await signOut();

    // A code of the next time step (the enrolment used this one: a replay would be refused).
    await password();
    await secondStep(rfc6238(secret, Date.now() + 30_000));
    await heading('Crisis queue').waitFor();
    await signOut();

    await password();
    await secondStep(codes[0]!);
    await heading('Crisis queue').waitFor();
    await signOut();
    // A recovery code works once.
    await password();
    await secondStep(codes[0]!);
    await page.getByRole('alert').filter({ hasText: 'The code or passkey was not accepted' }).waitFor();
    await check('factor-refused');
    await page.getByLabel('Code from your authenticator app, or a recovery code').fill(codes[1]!);
    await page.getByRole('button', { name: 'Verify code' }).click();
    await heading('Crisis queue').waitFor();

    const logins = await queryRows(
      server.deps.db,
      z.object({ amr: z.array(z.string()) }),
      sql`SELECT details->'amr' AS amr FROM audit_log
          WHERE action = 'auth.login' AND actor_id = ${userId} AND details ? 'factorId' ORDER BY at`,
    );
    // The TOTP, recovery-code and recovery-code sign-ins (the refused code started none).
    expect(logins.map((l) => l.amr)).toEqual([
      ['pwd', 'otp', 'mfa'],
      ['pwd', 'otp', 'mfa'],
      ['pwd', 'otp', 'mfa'],
    ]);
  }, 240_000);

  it('lists the sessions at 390 px, this one marked; ends another device’s, whose refresh then fails', async () => {
    const phone = await signInElsewhere(codes[2]!);
    await page.setViewportSize({ width: 390, height: 844 });
    await nav('Your sessions').click();
    await heading('Your sessions').waitFor();
    const table = page.getByRole('table', { name: /Live sessions/ });
    const current = table.getByRole('row').filter({ hasText: 'This session' });
    await expect.poll(() => current.count()).toBe(1);
    expect(await current.textContent()).toMatch(/Chrome \(headless\) on Linux.*Code \(app or recovery\)/);
    const end = page.getByRole('button', { name: /^End session: Chrome on Android/ });
    await end.waitFor();
    await check('sessions-390px');
    // Nothing wider than the screen: the page does not scroll sideways, the button is in view.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const tableBox = (await table.boundingBox())!;
    expect(tableBox.x + tableBox.width).toBeLessThanOrEqual(390 - 16); // the page's padding
    const box = (await end.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    expect(await current.getByRole('button').count()).toBe(0);

    // With the keyboard: focus the button, Enter opens the confirmation, Escape closes it.
    await end.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'End this session?' });
    await dialog.waitFor();
    await check('sessions-confirm-390px');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await server.client(phone.accessToken).auth.me.query()).toMatchObject({ id: userId });

    await end.click();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => end.count()).toBe(0);
    await expect(
      server.client().auth.refresh.mutate({ refreshToken: phone.refreshToken }),
    ).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    });
    await expect(server.client(phone.accessToken).auth.me.query()).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    });
    // This session goes on.
    await expect.poll(() => current.count()).toBe(1);
    await page.setViewportSize({ width: 1280, height: 860 });
  }, 120_000);

  it('renames a factor, shows why the last one cannot go, makes new recovery codes, asks for a step-up when it is stale, adds and removes a factor', async () => {
    await nav('Second factors').click();
    await heading('Second factors').waitFor();
    const table = page.getByRole('table', { name: 'Your second factors' });
    await table.getByRole('row', { name: /Authenticator app/ }).waitFor();
    // Signed in with a factor minutes ago: no step-up asked.
    expect(await page.getByRole('heading', { name: 'Confirm it is you' }).count()).toBe(0);
    await check('factors');

    await page.getByRole('button', { name: 'Rename Authenticator app' }).click();
    const rename = page.getByRole('dialog', { name: 'Rename Authenticator app' });
    await rename.getByLabel('New name').fill('Work phone');
    await rename.getByRole('button', { name: 'Confirm' }).click();
    await table.getByRole('cell', { name: 'Work phone', exact: true }).waitFor();

    await page.getByRole('button', { name: 'Remove Work phone' }).click();
    const remove = page.getByRole('dialog', { name: 'Remove Work phone' });
    await remove.getByRole('button', { name: 'Confirm' }).click();
    await remove
      .getByRole('alert')
      .filter({ hasText: 'This is your last second factor, which your role requires: add another first' })
      .waitFor();
    await check('factors-last-refused');
    await remove.getByRole('button', { name: 'Cancel' }).click();
    await table.getByRole('cell', { name: 'Work phone', exact: true }).waitFor();

    await page.getByRole('button', { name: 'New recovery codes' }).click();
    await page
      .getByRole('dialog', { name: 'New recovery codes' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    const fresh = page.getByRole('region', { name: 'New recovery codes' }).getByRole('listitem');
    await expect.poll(() => fresh.count()).toBe(10);
    const newCodes = (await fresh.allTextContents()).map((c) => c.trim());
    await page.getByRole('button', { name: 'I have kept them' }).click();
    // The old codes stopped working.
    await expect(signInElsewhere(codes[3]!)).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });

    // The session's factor, 20 minutes old (as if verified then): after a reload (a refresh
    // carries the session's auth_time on) the page asks for a factor before any change.
    await server.deps.db.execute(
      sql`UPDATE refresh_tokens SET auth_time = now() - interval '20 minutes'
          WHERE user_id = ${userId} AND used_at IS NULL AND revoked_at IS NULL`,
    );
    await page.reload();
    await heading('Second factors').waitFor();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
    expect(await page.getByRole('button', { name: 'Rename Work phone' }).isDisabled()).toBe(true);
    await check('factors-step-up');
    await page.getByLabel('Code from your authenticator app, or a recovery code').fill(newCodes[0]!);
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor({ state: 'hidden' });
    await expect.poll(() => page.getByRole('button', { name: 'Rename Work phone' }).isEnabled()).toBe(true);

    // A second authenticator app; then the first may go.
    await page.getByRole('button', { name: 'Use an authenticator app' }).click();
    const second = (await page.getByTestId('totp-secret').textContent())!.trim();
    expect(second).not.toBe(secret);
    await page.getByLabel('Code from the app').fill(rfc6238(second, Date.now()));
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await expect.poll(() => table.getByRole('row').count()).toBe(3); // header + two factors
    await page.getByRole('button', { name: 'Remove Work phone' }).click();
    await page
      .getByRole('dialog', { name: 'Remove Work phone' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    await expect.poll(() => table.getByRole('row').count()).toBe(2);
    expect(await table.getByRole('cell', { name: 'Work phone' }).count()).toBe(0);
    const stored = await queryRows(
      server.deps.db,
      z.object({ name: z.string() }),
      sql`SELECT name FROM mfa_factors WHERE user_id = ${userId}`,
    );
    expect(stored).toEqual([{ name: 'Authenticator app' }]);

    expect(browser.cspViolations).toEqual([]);
  }, 240_000);
});
