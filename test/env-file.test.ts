// .env files as operators use them: .env.example and the output of keys:generate must mean
// the same thing to a shell (`set -a; . ./.env`), to Node (`--env-file`, process.loadEnvFile)
// and to `docker run --env-file` (which takes everything after `=` verbatim), and must be a
// valid configuration.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parsePrivateKeys } from '../server/auth/keys.ts';
import { loadConfig } from '../server/config.ts';
import { dockerEnvFile } from './helpers.ts';

/** The variables a file defines, as bash sees them after `set -a; . file`. */
function sourcedByBash(file: string, names: string[]): Record<string, string> {
  const script = `set -a; . ${JSON.stringify(resolve(file))} || exit 3; set +a; node -e 'const o={}; for (const n of process.argv.slice(1)) o[n]=process.env[n]; console.log(JSON.stringify(o))' ${names.join(' ')}`;
  const out = execFileSync('bash', ['-c', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  return JSON.parse(out) as Record<string, string>;
}

/** The variables as `node --env-file=file` loads them (a fresh process, nothing else set). */
function loadedByNode(file: string): Record<string, string> {
  const out = execFileSync(
    process.execPath,
    [`--env-file=${file}`, '-e', 'const { PATH, ...env } = process.env; console.log(JSON.stringify(env))'],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
  );
  return JSON.parse(out) as Record<string, string>;
}

/** Docker, Node and bash read the same values from the file. */
function expectSameEverywhere(file: string): Record<string, string> {
  const text = readFileSync(file, 'utf8');
  const docker = dockerEnvFile(text);
  const names = Object.keys(docker);
  expect(names.length).toBeGreaterThan(0);
  expect(loadedByNode(file)).toEqual(Object.fromEntries(names.map((n) => [n, docker[n]])));
  expect(parseEnv(text)).toEqual(docker);
  expect(sourcedByBash(file, names)).toEqual(docker);
  return docker;
}

describe('.env files', () => {
  it('.env.example reads the same in a shell, in Node and in docker --env-file, and is a valid configuration', () => {
    const env = expectSameEverywhere('.env.example');
    expect(loadConfig(env).VIEW_REFRESH_CRON).toBe('23 * * * *');
  });

  it('keys:generate prints lines that read the same everywhere and configure production', () => {
    const dir = mkdtempSync(join(tmpdir(), 'manas360-keys-'));
    try {
      const file = join(dir, 'keys.env');
      writeFileSync(
        file,
        execFileSync(process.execPath, ['--import', 'tsx', 'scripts/keys.ts'], {
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '' },
        }),
      );
      const keys = expectSameEverywhere(file);
      expect(Object.keys(keys)).toEqual(['JWT_PRIVATE_KEYS', 'NOTES_ENCRYPTION_KEY']);
      expect(parsePrivateKeys(keys.JWT_PRIVATE_KEYS!)).toHaveLength(1);
      const config = loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db.internal/manas360',
        REDIS_URL: 'redis://cache.internal:6379',
        ...keys,
      });
      expect(config.NOTES_ENCRYPTION_KEY).toBe(keys.NOTES_ENCRYPTION_KEY);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
