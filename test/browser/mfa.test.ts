/// <reference lib="dom" />
// Passkeys in the console, in a real browser: Debian's Chromium with the DevTools protocol's
// virtual authenticator (WebAuthn.addVirtualAuthenticator: CTAP2, internal, resident keys,
// user verification) — the browser's own WebAuthn and the server's @simplewebauthn
// verification, nothing mocked. A therapist signs in with a password, must add a passkey
// before any page, signs out, signs in again with the passkey, and steps up with it on the
// factors page (TOTP, recovery codes, sessions: test/browser/factors.test.ts). The page is opened at
// http://localhost:<port>: a WebAuthn relying party is a domain, not an IP.
import { sql } from 'drizzle-orm';
import type { CDPSession } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { queryRows } from '../../db/client.ts';
import { buildConsole, consoleIsStale } from '../../scripts/build-console.ts';
import { NOTICE, REAL_DATABASE_URL } from '../helpers.ts';
import { registerUser, startTestServer, type TestServer } from '../server.ts';
import { type Browser, haveChromium, launchChromium } from './chromium.ts';

const PASSWORD = 'therapist-password-1';

describe.skipIf(!haveChromium)('second factors in the console (Chromium)', () => {
  let server: TestServer;
  let browser: Browser;
  let cdp: CDPSession;
  let authenticatorId: string;
  beforeAll(async () => {
    if (consoleIsStale()) await buildConsole();
    server = await startTestServer({ kind: REAL_DATABASE_URL ? 'postgres' : 'pglite' });
    browser = await launchChromium();
    cdp = await browser.context.newCDPSession(browser.page);
    await cdp.send('WebAuthn.enable');
    ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    }));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('enrols a passkey, signs in with it, steps up with it; the signature counter moves each time', async () => {
    const page = browser.page;
    const heading = (name: string) => page.getByRole('heading', { level: 1, name });
    const email = `therapist.${Date.now().toString(36)}@example.test`;
    const reg = await registerUser(server, {
      email,
      password: PASSWORD,
      name: 'Dr Passkey',
      acceptPrivacyNotice: NOTICE,
    });
    await server.deps.db.execute(
      sql`UPDATE users SET role_id = (SELECT id FROM roles WHERE name = 'therapist') WHERE id = ${reg.user.id}`,
    );
    const origin = server.url.replace('127.0.0.1', 'localhost');
    const signIn = async () => {
      await page.goto(`${origin}/admin/`);
      await heading('MANAS360 admin').waitFor();
      await page.getByLabel('Email').fill(email);
      await page.locator('input[type=password]').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
    };

    // First sign-in: a password only, so the console asks for a factor before anything else.
    await signIn();
    await heading('Set up a second factor').waitFor();
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await heading('Second factor added').waitFor();
    expect(await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').count()).toBe(10);
    await page.getByRole('button', { name: 'Continue' }).click();
    await heading('Crisis queue').waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);
    const stored = await queryRows(
      server.deps.db,
      z.object({ kind: z.string(), credential_id: z.string() }),
      sql`SELECT kind, credential_id FROM mfa_factors WHERE user_id = ${reg.user.id}`,
    );
    expect(stored).toEqual([
      {
        kind: 'passkey',
        credential_id: Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url'),
      },
    ]);

    // Sign out; sign in again: password, then the passkey.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn();
    await heading('Second factor').waitFor();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await heading('Crisis queue').waitFor();
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(after.credentials[0]!.signCount).toBeGreaterThan(credentials[0]!.signCount);

    // A step-up with the passkey: the session's factor made 20 minutes old, the factors page
    // asks for one before any change, the passkey gives it.
    await server.deps.db.execute(
      sql`UPDATE refresh_tokens SET auth_time = now() - interval '20 minutes'
          WHERE user_id = ${reg.user.id} AND used_at IS NULL AND revoked_at IS NULL`,
    );
    await page.goto(`${origin}/admin/factors`);
    await heading('Second factors').waitFor();
    const stepUp = page.getByRole('heading', { name: 'Confirm it is you' });
    await stepUp.waitFor();
    expect(await page.getByRole('button', { name: 'Rename Passkey' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await stepUp.waitFor({ state: 'hidden' });
    expect(await page.getByRole('button', { name: 'Rename Passkey' }).isEnabled()).toBe(true);
    const stepped = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(stepped.credentials[0]!.signCount).toBeGreaterThan(after.credentials[0]!.signCount);
  }, 240_000);
});
