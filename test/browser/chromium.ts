// Debian's Chromium (/usr/bin/chromium, never a downloaded browser) driven by playwright-core,
// with every Content-Security-Policy violation of every page collected: the browser suites
// start it here and expect no violation. axeViolations: axe-core's findings on a page.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axe from 'axe-core';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser suite skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** "directive blocked-uri sample" of each CSP violation so far. */
  cspViolations: string[];
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'manas360-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
    // No transitions (the console honours reduced motion): axe then checks a dialog's final
    // colours, not a frame of its fade-in (a half-faded dialog fails colour contrast).
    reducedMotion: 'reduce',
  });
  const cspViolations: string[] = [];
  await context.exposeBinding('reportCspViolation', (_source, v: string) => {
    cspViolations.push(v);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { reportCspViolation(v: string): void }).reportCspViolation(
        `${e.violatedDirective} ${e.blockedURI} ${e.sample}`,
      );
    });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    cspViolations,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * axe-core on the page as it is: the count of violations per impact, and the serious or
 * critical ones described (a suite expects none).
 */
export async function axeViolations(
  page: Page,
  name: string,
): Promise<{ counts: Record<string, number>; severe: string[] }> {
  await page.evaluate(axe.source);
  const result = await page.evaluate(() =>
    (window as unknown as { axe: typeof axe }).axe.run(document, { resultTypes: ['violations'] }),
  );
  const counts: Record<string, number> = {};
  for (const v of result.violations) counts[v.impact ?? 'unknown'] = (counts[v.impact ?? 'unknown'] ?? 0) + 1;
  const severe = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${name}: ${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  return { counts, severe };
}
