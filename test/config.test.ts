// Configuration: every docs/api.md variable validated at start; a bad value stops the process
// with one line naming the variable; production refuses what is only for development; an
// unreachable Redis stops it with one line naming REDIS_URL and the address.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.ts';
import { connectRedis } from '../server/redis.ts';
import { freePort } from './faults/support.ts';
import { scaled } from './support/load.ts';

/** A server process's start through tsx, which takes >20 s on this 2-core machine under load. */
const SPAWN_TIMEOUT_MS = scaled(80_000);

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/prod',
  REDIS_URL: 'redis://127.0.0.1:6379',
  JWT_SECRET: randomBytes(32).toString('hex'),
  NOTES_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
};

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('has the defaults of docs/api.md', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      NODE_ENV: 'development',
      DATA_DIR: './.data',
      JWT_ISSUER: 'manas360',
      JWT_AUDIENCE: 'manas360-api',
      ACCESS_TOKEN_TTL_SECONDS: 900,
      REFRESH_TOKEN_TTL_SECONDS: 604800,
      RATE_LIMIT_ENABLED: true,
      RATE_LIMIT_GENERAL_PER_MINUTE: 600,
      RATE_LIMIT_REGISTER_PER_HOUR: 20,
      RATE_LIMIT_LOGIN_FAILURES: 10,
      VIEW_REFRESH_CRON: '23 * * * *',
      LOG_LEVEL: 'info',
      DATABASE_REPLICA_URLS: [],
      CORS_ORIGINS: [],
    });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
  });

  it('names the variable of a bad value, one line each', () => {
    const message = errorOf({ PORT: 'eighty', LOG_LEVEL: 'loud' });
    const lines = message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^invalid configuration: PORT /);
    expect(lines[1]).toMatch(/^invalid configuration: LOG_LEVEL /);
    expect(errorOf({ DATABASE_URL: 'mysql://x' })).toMatch(/^invalid configuration: DATABASE_URL /);
    expect(errorOf({ JWT_SECRET: 'x'.repeat(31) })).toMatch(/JWT_SECRET must be at least 32 bytes/);
    expect(errorOf({ NOTES_ENCRYPTION_KEY: 'dG9vIHNob3J0' })).toMatch(
      /^invalid configuration: NOTES_ENCRYPTION_KEY/,
    );
    expect(errorOf({ VIEW_REFRESH_CRON: 'every five minutes' })).toMatch(/VIEW_REFRESH_CRON/);
  });

  it('parses comma-separated lists and treats empty variables as unset', () => {
    const c = loadConfig({
      CORS_ORIGINS: 'https://app.example, https://admin.example,',
      DATABASE_REPLICA_URLS: 'postgres://r1/db,postgres://r2/db',
      REDIS_URL: '',
    });
    expect(c.CORS_ORIGINS).toEqual(['https://app.example', 'https://admin.example']);
    expect(c.DATABASE_REPLICA_URLS).toEqual(['postgres://r1/db', 'postgres://r2/db']);
    expect(c.REDIS_URL).toBeUndefined();
  });

  it('accepts a complete production configuration', () => {
    expect(loadConfig(production).NODE_ENV).toBe('production');
  });

  it.each([
    ['DATABASE_URL', { DATABASE_URL: '' }],
    ['REDIS_URL', { REDIS_URL: '' }],
    ['JWT_PRIVATE_KEYS', { JWT_SECRET: '' }],
    ['NOTES_ENCRYPTION_KEY', { NOTES_ENCRYPTION_KEY: '' }],
    ['RATE_LIMIT_ENABLED', { RATE_LIMIT_ENABLED: 'false' }],
    ['PASSWORD_HASH_COST', { PASSWORD_HASH_COST: '12' }],
  ])('refuses production without a proper %s', (name, change) => {
    expect(errorOf({ ...production, ...change })).toMatch(new RegExp(`^invalid configuration: ${name} `));
  });

  it(
    'stops the server at start with that one line and exit code 1',
    () => {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
        env: {
          ...process.env,
          NODE_ENV: 'production',
          DATABASE_URL: '',
          REDIS_URL: 'redis://127.0.0.1:6379',
        },
        encoding: 'utf8',
        timeout: SPAWN_TIMEOUT_MS,
      });
      expect(run.status).toBe(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines[0]).toMatch(/^invalid configuration: DATABASE_URL is required in production/);
      expect(run.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );

  it(
    'stops the server within seconds with one line naming REDIS_URL and the address when Redis is unreachable',
    async () => {
      const port = await freePort(); // nothing listens there
      const line = `REDIS_URL: cannot connect to Redis at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`;
      const began = performance.now();
      await expect(connectRedis(`redis://127.0.0.1:${port}`)).rejects.toThrow(line);
      expect(performance.now() - began).toBeLessThan(3000);
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
        env: { PATH: process.env.PATH, REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'error' },
        encoding: 'utf8',
        timeout: SPAWN_TIMEOUT_MS,
      });
      expect(run.status).toBe(1);
      expect(run.stderr.trim()).toBe(`start-up failed: ${line}`);
    },
    SPAWN_TIMEOUT_MS + 10_000,
  );
});
