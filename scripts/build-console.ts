// Builds the admin console (web/admin → dist/admin) with Vite. `--if-stale` (npm start's
// prestart) skips the build when dist/admin is newer than every source file, so the
// quick start's `npm install && npm start` serves the console at /admin.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { CONSOLE_DIR } from '../server/http/admin-console.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What the bundle is made of: the console's sources and the shared code it imports. */
const SOURCES = ['web/admin', 'shared', 'package-lock.json'].map((p) => join(ROOT, p));

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

export function consoleIsStale(): boolean {
  let built: number;
  try {
    built = statSync(join(CONSOLE_DIR, 'index.html')).mtimeMs;
  } catch {
    return true;
  }
  return Math.max(...SOURCES.map(newest)) > built;
}

export async function buildConsole(): Promise<void> {
  await build({ configFile: join(ROOT, 'web/admin/vite.config.ts'), logLevel: 'warn' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--if-stale') && !consoleIsStale()) process.exit(0);
  const started = performance.now();
  await buildConsole();
  console.log(
    `admin console built into dist/admin in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}
