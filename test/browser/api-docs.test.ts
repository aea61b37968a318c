// The API documentation page (/docs: Swagger UI from node_modules/swagger-ui-dist, see
// server/http/rest.ts) in a real browser, under the same strict CSP as the admin console:
// it renders every REST endpoint of /openapi.json with no CSP violation.
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../server.ts';
import { type Browser, haveChromium, launchChromium } from './chromium.ts';

describe.skipIf(!haveChromium)('API documentation (/docs) in Chromium', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('renders every endpoint of the document within the CSP', async () => {
    const { page, cspViolations } = browser;
    const document = await (await fetch(`${server.url}/openapi.json`)).json();
    const paths = Object.keys(document.paths);
    await page.goto(`${server.url}/docs`);
    await page.locator('.opblock-summary-path').first().waitFor({ timeout: 30_000 });
    const shown = await page.locator('.opblock-summary-path').allTextContents();
    expect(shown.map((p) => p.replace(/\u200b/g, '')).sort()).toEqual([...paths].sort());
    // Open one operation: its parameters and responses render too.
    await page.locator('#operations-mood-mood-list .opblock-summary').click();
    await page.locator('#operations-mood-mood-list .parameters').waitFor();
    mkdirSync('tmp/screenshots', { recursive: true });
    await page.screenshot({ path: 'tmp/screenshots/api-docs.png' });
    expect(cspViolations).toEqual([]);
  }, 60_000);
});
