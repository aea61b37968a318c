// `npm run lint:openapi`: writes the OpenAPI document (GET /openapi.json, generated from the
// router: server/http/openapi.ts) to tmp/openapi.json and lints it with Redocly CLI
// (`recommended`, redocly.yaml) and Spectral (`spectral:oas`, .spectral.yaml). Fails on any
// error or warning of either; prints each linter's counts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { openApiDocument } from '../server/http/openapi.ts';

const FILE = 'tmp/openapi.json';
mkdirSync('tmp', { recursive: true });
writeFileSync(FILE, `${JSON.stringify(openApiDocument(), null, 2)}\n`);

/** A CLI's standard output, whatever its exit code (both exit non-zero on findings). */
function run(bin: string, args: string[]): string {
  try {
    return execFileSync(`node_modules/.bin/${bin}`, args, {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    if (out) return out;
    throw err;
  }
}

interface RedoclyProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: { pointer?: string }[];
}
const redocly = JSON.parse(
  run('redocly', ['lint', FILE, '--config', 'redocly.yaml', '--format', 'json']),
) as {
  totals: { errors: number; warnings: number };
  problems: RedoclyProblem[];
};
for (const p of redocly.problems)
  console.log(`redocly ${p.severity} ${p.ruleId}: ${p.message} (${p.location[0]?.pointer ?? ''})`);
console.log(`Redocly (recommended): ${redocly.totals.errors} errors, ${redocly.totals.warnings} warnings`);

interface SpectralResult {
  code: string;
  severity: number;
  message: string;
  path: string[];
}
const spectral = JSON.parse(
  run('spectral', ['lint', FILE, '--ruleset', '.spectral.yaml', '--format', 'json', '--quiet']) || '[]',
) as SpectralResult[];
for (const r of spectral) console.log(`spectral ${r.severity} ${r.code}: ${r.message} (${r.path.join('.')})`);
const errors = spectral.filter((r) => r.severity === 0).length;
const warnings = spectral.filter((r) => r.severity === 1).length;
console.log(`Spectral (spectral:oas): ${errors} errors, ${warnings} warnings`);

if (redocly.totals.errors + redocly.totals.warnings + errors + warnings > 0) process.exit(1);
