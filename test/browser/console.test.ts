/// <reference lib="dom" />
// The admin console in a real browser: Debian's Chromium (/usr/bin/chromium, never a
// downloaded one) driven by playwright-core against the real server (the built console at
// /admin, tRPC, the cookie session), on PGlite or, with DATABASE_URL, PostgreSQL.
// End to end: keyboard-only sign-in and acceptance of the privacy notice, search a user,
// change their plan and see it in the list and the audit log, a crisis alert appearing live
// and acknowledged, suspension refusing the user's token, a view refresh, the charts, a reload keeping the session, a patient seeing
// "No access". axe-core checks every page; no CSP violation may happen. Screenshots of every
// page go to tmp/screenshots (not committed).
import { mkdirSync, writeFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../../db/client.ts';
import { buildConsole, consoleIsStale } from '../../scripts/build-console.ts';
import { NOTICE, REAL_DATABASE_URL } from '../helpers.ts';
import { registerUser, startTestServer, type TestServer } from '../server.ts';
import { rfc6238 } from '../support/totp.ts';
import { axeViolations, type Browser, haveChromium, launchChromium } from './chromium.ts';

const SCREENSHOTS = 'tmp/screenshots';
const ADMIN = { email: 'console-admin@example.test', password: 'console-admin-password' };
const PASSWORD = 'patient-password-1';
const CRISIS_PHQ9 = [1, 1, 1, 1, 1, 1, 1, 1, 2];

describe.skipIf(!haveChromium)('admin console in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cspViolations: string[];
  /** URLs of the server-sent event streams the page opened. */
  const liveStreams: string[] = [];
  const axeResults: Record<string, Record<string, number>> = {};

  beforeAll(async () => {
    if (consoleIsStale()) await buildConsole();
    server = await startTestServer({
      kind: REAL_DATABASE_URL ? 'postgres' : 'pglite',
      env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password },
    });
    browser = await launchChromium();
    ({ context, page, cspViolations } = browser);
    page.on('request', (r) => {
      if (r.headers().accept?.includes('text/event-stream')) liveStreams.push(r.url());
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    mkdirSync('tmp', { recursive: true });
    writeFileSync('tmp/axe-results.json', `${JSON.stringify(axeResults, null, 2)}\n`);
    await browser?.close();
    await server?.close();
  });

  /** axe-core on the page as it is: no serious or critical violation; the counts are kept for the report. */
  async function check(name: string) {
    const { counts, severe } = await axeViolations(page, name);
    axeResults[name] = counts;
    expect(severe).toEqual([]);
    await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
  }

  const heading = (name: string) => page.getByRole('heading', { level: 1, name });
  const nav = (label: string) =>
    page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: label });

  /** A Mantine Select: open it, pick the option. */
  async function pick(label: string, option: string) {
    await page.getByRole('combobox', { name: label }).click();
    await page.getByRole('option', { name: option, exact: true }).click();
  }

  async function registerPatient(tag: string) {
    const email = `patient-${tag}-${Date.now().toString(36)}@example.test`;
    const res = await registerUser(server, {
      email,
      password: PASSWORD,
      name: `Patient ${tag}`,
      acceptPrivacyNotice: NOTICE,
    });
    return { email, id: res.user.id, token: res.accessToken, refreshToken: res.refreshToken };
  }

  it('runs the admin flows end to end, keyboard first, accessible, within the CSP', async () => {
    const patient = await registerPatient('crisis');
    const first = await server
      .client(patient.token)
      .assessments.submit.mutate({ instrument: 'PHQ9', answers: CRISIS_PHQ9 });
    expect(first.crisis).toBe(true);

    // Sign-in with the keyboard alone: Tab to the email field, type, Tab, type, Enter.
    await page.goto(`${server.url}/admin/`);
    await heading('MANAS360 admin').waitFor();
    await check('sign-in');
    await page.keyboard.press('Tab');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('type'))).toBe('email');
    await page.keyboard.type(ADMIN.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN.password);
    await page.keyboard.press('Enter');

    // The bootstrap admin has accepted no privacy notice: the console shows it first, and
    // accepting it (keyboard: focus starts on the notice, Tab, Tab, Enter) lets them in.
    await heading('Privacy notice').waitFor();
    await page.getByText(`version ${NOTICE}`).waitFor();
    await check('privacy-notice');
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Privacy notice');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Accept the notice');
    await page.keyboard.press('Enter');

    // An admin needs a second factor: the console asks for one before any page. An
    // authenticator app: the code is computed here from the secret shown beside the QR code.
    await heading('Set up a second factor').waitFor();
    await check('enrol');
    await page.getByRole('button', { name: 'Use an authenticator app' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await page.getByLabel('Code from the app').fill(rfc6238(secret, Date.now()));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await heading('Second factor added').waitFor();
    expect(await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').count()).toBe(10);
    await check('recovery-codes');
    await page.getByRole('button', { name: 'Continue' }).click();
    await heading('Users').waitFor();
    const consents = await queryRows(
      server.deps.db,
      z.object({ version: z.string() }),
      sql`SELECT c.notice_version AS version FROM privacy_consents c JOIN users u ON u.id = c.user_id
          WHERE u.email = ${ADMIN.email}`,
    );
    expect(consents).toEqual([{ version: NOTICE }]);
    await page.getByRole('row').nth(2).waitFor();
    await check('users');

    // Search by a part from the middle of the email.
    const part = patient.email.slice('patient-'.length, 'patient-'.length + 10);
    await page.getByLabel('Search').fill(part);
    const row = page.getByRole('row', { name: new RegExp(patient.email) });
    await row.waitFor();
    await expect.poll(() => page.getByRole('row').count()).toBe(2); // header + the one match
    await row.getByRole('link', { name: patient.email }).click();
    await heading('Patient crisis').waitFor();
    await check('user-detail');

    // Change the plan, confirmed in a dialog; the profile, the list and the audit log show it at once.
    await pick('New plan', 'premium');
    await page.getByRole('button', { name: 'Change plan' }).click();
    const dialog = page.getByRole('dialog', { name: 'Change plan' });
    await dialog.waitFor();
    await check('confirm-plan-change');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('premium (active)').waitFor();
    await page.getByRole('link', { name: '← All users' }).click();
    await page.getByLabel('Search').fill(part);
    await expect
      .poll(() =>
        page
          .getByRole('row', { name: new RegExp(patient.email) })
          .getByRole('cell')
          .nth(3)
          .textContent(),
      )
      .toBe('premium');
    await nav('Audit log').click();
    await heading('Audit log').waitFor();
    await pick('Action', 'admin.users.setPlan');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const entry = page.getByRole('row', { name: new RegExp(`admin\\.users\\.setPlan.*${patient.email}`) });
    await entry.waitFor();
    await check('audit');

    // The crisis queue: the open alert; one raised now appears without a reload; acknowledge the oldest.
    await nav('Crisis queue').click();
    await heading('Crisis queue').waitFor();
    const open = page.getByRole('table', { name: /Open alerts/ });
    await expect.poll(() => open.getByRole('row').count()).toBe(2);
    // The plan change ended the patient's access token; their client refreshes into the new claims.
    patient.token = (
      await server.client().auth.refresh.mutate({ refreshToken: patient.refreshToken })
    ).accessToken;
    // Another patient's crisis screening (a patient has one open alert at a time: this
    // patient's next one would attach to the open alert, not raise a row).
    const raiser = await registerUser(server, {
      email: `console-other-${Date.now().toString(36)}@example.test`,
      password: PASSWORD,
      name: 'Other Patient',
      acceptPrivacyNotice: NOTICE,
    });
    await server
      .client(raiser.accessToken)
      .assessments.submit.mutate({ instrument: 'PHQ9', answers: CRISIS_PHQ9 });
    // Live (crisis.onChange over server-sent events), not polled: the row appears well
    // within the old 5 s poll, and the page holds an event stream open.
    const raisedAt = Date.now();
    await expect.poll(() => open.getByRole('row').count(), { timeout: 15_000 }).toBe(3);
    console.log(`[console] a new crisis alert appeared ${Date.now() - raisedAt} ms after the screening`);
    expect(liveStreams.some((u) => u.includes('/trpc/crisis.onChange'))).toBe(true);
    await page.getByText('Live: new alerts appear here at once.').waitFor();
    // The patient links to their page (the admin holds users.read).
    expect(await open.getByRole('link', { name: 'Other Patient' }).count()).toBe(1);
    expect(
      await open
        .getByRole('row', { name: /Other Patient/ })
        .getByText(/\d+ min/)
        .count(),
    ).toBe(1);
    await check('crisis');
    await open.getByRole('button', { name: 'Acknowledge' }).first().click();
    // It asks first.
    const confirm = page.getByRole('dialog', { name: 'Acknowledge the alert' });
    await confirm.waitFor();
    expect(await open.getByRole('row').count()).toBe(3);
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => open.getByRole('row').count()).toBe(2);
    const acknowledged = page.getByRole('table', { name: 'Recently acknowledged' });
    await expect.poll(() => acknowledged.getByRole('row').count()).toBe(2);
    // Who acknowledged and when.
    expect(await acknowledged.getByRole('row').nth(1).textContent()).toMatch(/Administrator/);

    // Suspend the patient: their access token is refused at once.
    await expect(server.client(patient.token).auth.me.query()).resolves.toMatchObject({ id: patient.id });
    await nav('Users').click();
    await page.getByLabel('Search').fill(part);
    await page.getByRole('link', { name: patient.email }).click();
    await page.getByRole('button', { name: 'Suspend' }).click();
    const suspend = page.getByRole('dialog', { name: 'Suspend user' });
    await suspend.getByLabel('Reason').fill('Console end-to-end test');
    await suspend.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('button', { name: 'Unsuspend' }).waitFor();
    await expect(server.client(patient.token).auth.me.query()).rejects.toMatchObject({
      data: { code: 'UNAUTHORIZED' },
    });

    // Views: refresh now.
    await nav('Views').click();
    await heading('Views').waitFor();
    await page.getByRole('button', { name: 'Refresh now' }).click();
    await page.getByRole('status').filter({ hasText: 'Refreshed:' }).waitFor();
    await check('views');

    // Analytics: the charts draw.
    await nav('Analytics').click();
    await heading('Analytics').waitFor();
    await expect.poll(() => page.locator('figure .recharts-wrapper').count()).toBe(5);
    await check('analytics');

    // A reload keeps the session; no token is anywhere a page script could read it.
    await page.reload();
    await heading('Analytics').waitFor();
    expect(
      await page.evaluate(() => ({
        local: localStorage.length,
        session: sessionStorage.length,
        cookie: document.cookie,
      })),
    ).toEqual({ local: 0, session: 0, cookie: '' });
    const [cookie] = await context.cookies(`${server.url}/auth/session/refresh`);
    expect(cookie).toMatchObject({
      name: 'm360_refresh',
      path: '/auth/session',
      httpOnly: true,
      secure: true,
      sameSite: 'Strict',
    });

    // A patient signs in and sees that they have no access.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await heading('MANAS360 admin').waitFor();
    const other = await registerPatient('no-access');
    await page.getByLabel('Email').fill(other.email);
    await page.locator('input[type=password]').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('No access').waitFor();
    await check('no-access');

    expect(cspViolations).toEqual([]);
  }, 240_000);
});
