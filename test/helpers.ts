// Test fixtures: a database of the test file's own (in-memory PGlite, or a fresh database
// on the real server when DATABASE_URL is set), services built on it, and callers. Both
// start as copies of the run's migrated template (test/templates.ts), not by migrating.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import postgres from 'postgres';
import { inject } from 'vitest';
import { createDatabase, type Database } from '../db/client.ts';
import type { AccessClaims } from '../server/auth/tokens.ts';
import { DEFAULT_PRIVACY_NOTICE_VERSION, loadConfig } from '../server/config.ts';
import { closeDeps, createDeps, createLogger } from '../server/create-services.ts';
import { DomainError } from '../server/domain/errors.ts';
import { appRouter } from '../server/routers/index.ts';
import type { AppDeps } from '../server/services.ts';
import { authenticate, createContextInner, type RequestInfo } from '../server/trpc/context.ts';
import { createCallerFactory } from '../server/trpc/init.ts';
import type { RegisterInput } from '../shared/inputs/auth.ts';
import type { SoftPasskey } from './support/passkey.ts';
import { registerConfirmedWith } from './support/register.ts';
import { signInWith } from './support/sign-in.ts';
import { copyDatabaseSettings } from './templates.ts';

export const REAL_DATABASE_URL = process.env.DATABASE_URL;
/** The privacy notice version test servers run with (registration must accept it). */
export const NOTICE = DEFAULT_PRIVACY_NOTICE_VERSION;
export const REAL_REDIS_URL = process.env.REDIS_URL;

export type DbKind = 'pglite' | 'postgres';
/** The database kinds this run can test: PGlite always, Postgres when DATABASE_URL is set. */
export const DB_KINDS: DbKind[] = REAL_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

let pgliteTemplate: Promise<Blob> | undefined;
/** The run's migrated PGlite dump (read once per worker), made by test/global-setup.ts. */
function loadPgliteTemplate(): Promise<Blob> {
  pgliteTemplate ??= readFile(inject('pgliteTemplate')).then((bytes) => new Blob([bytes]));
  return pgliteTemplate;
}

/**
 * Fills `dataDir` (a DATA_DIR) with a copy of the run's migrated embedded database, so that a
 * server started on it finds its migrations applied instead of running them all.
 */
export async function createMigratedDataDir(dataDir: string): Promise<void> {
  const database = await createDatabase({ dataDir, loadDataDir: await loadPgliteTemplate() });
  await database.close();
}

/** A migrated database of the caller's own (a copy of the run's template); dispose() drops it. */
export async function createTestDatabase(
  kind: DbKind = 'pglite',
  opts: { poolMax?: number } = {},
): Promise<Database & { url?: string; dispose(): Promise<void> }> {
  if (kind === 'pglite') {
    const database = await createDatabase({ memory: true, loadDataDir: await loadPgliteTemplate() });
    return { ...database, dispose: () => database.close() };
  }
  const template = inject('postgresTemplate');
  if (!template) throw new Error('no template database: DATABASE_URL was not set when the run started');
  const copy = await createPostgresDatabase(template);
  const database = await createDatabase({ url: copy.url, poolMax: opts.poolMax ?? 10 });
  return {
    ...database,
    url: copy.url,
    async dispose() {
      await database.close();
      await copy.drop();
    },
  };
}

/** A new, empty (unmigrated) database on the real server; drop() removes it. */
export function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  return createPostgresDatabase();
}

/** A new database on the real server, empty or a copy of `template`; drop() removes it. */
async function createPostgresDatabase(template?: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (!REAL_DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const name = `t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(REAL_DATABASE_URL, { max: 1, onnotice: () => {} });
  if (template) {
    await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
    await copyDatabaseSettings(admin, template, name);
  } else {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  }
  const url = new URL(REAL_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** The configuration tests run with: quiet, limits and jobs off, cheap password hashing. */
export function testConfig(env: Record<string, string> = {}) {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    JWT_SECRET: randomBytes(32).toString('hex'),
    RATE_LIMIT_ENABLED: 'false',
    JOBS_ENABLED: 'false',
    // scrypt at 2^12 instead of 2^17 (~5 ms instead of ~300 ms a hash); test-only knob.
    PASSWORD_HASH_COST: '12',
    // Suites make many parallel logins from one address; the hashing bound has tests of its own.
    PASSWORD_HASH_PER_IP: '1000',
    PASSWORD_HASH_QUEUE: '10000',
    // Suites download many reports and files per user; the limits have tests of their own.
    REPORTS_PER_HOUR: '1000',
    DOWNLOADS_PER_USER: '100',
    // Suites book many sessions for one patient; the cap has tests of its own.
    MAX_UPCOMING_BOOKINGS: '1000',
    // Every call's result checked against its .output() schema, strictly: a field the schema
    // does not declare fails the call (so /trpc, unchecked in production, answers the same).
    OUTPUT_VALIDATION: 'all',
    ...env,
  });
}

/** Services on a database of the test's own. Config comes from env overrides only. */
export async function createTestDeps(
  kind: DbKind = 'pglite',
  env: Record<string, string> = {},
): Promise<AppDeps & { dispose(): Promise<void> }> {
  const database = await createTestDatabase(kind);
  const config = testConfig(env);
  const deps = await createDeps(config, { database, log: createLogger(config) });
  return {
    ...deps,
    async dispose() {
      await closeDeps(deps);
      await database.dispose();
    },
  };
}

const createCaller = createCallerFactory(appRouter);

/** A server-side caller acting with the given claims (null: anonymous). */
export function callerFor(deps: AppDeps, auth: AccessClaims | null = null, req: Partial<RequestInfo> = {}) {
  return createCaller(createContextInner({ deps, auth, req }));
}

/**
 * A new patient through an in-process caller, as registerUser (test/server.ts) does over
 * HTTP: registered, confirmed and logged in — tokens and user.
 */
export function callerRegister(deps: AppDeps, input: RegisterInput, req: Partial<RequestInfo> = {}) {
  const anon = callerFor(deps, null, req);
  return registerConfirmedWith(
    { register: (i) => anon.auth.register(i), login: (c) => anon.auth.login(c) },
    deps.db,
    input,
  );
}

const callerPasskeys = new WeakMap<AppDeps, Map<string, SoftPasskey>>();

/**
 * auth.login through an in-process caller, as signIn (test/server.ts) does over HTTP: staff
 * complete it with a passkey enrolled on their first sign-in (test/support/sign-in.ts).
 */
export function callerSignIn(
  deps: AppDeps,
  credentials: { email: string; password: string },
  req: Partial<RequestInfo> = {},
) {
  const anon = callerFor(deps, null, req);
  const mine = callerPasskeys.get(deps) ?? new Map<string, SoftPasskey>();
  callerPasskeys.set(deps, mine);
  return signInWith(
    {
      login: (c) => anon.auth.login(c),
      errorData: (err) =>
        err instanceof Error && err.cause instanceof DomainError ? err.cause.details : undefined,
      loginOptions: (challengeToken) => anon.auth.mfa.loginOptions({ challengeToken }),
      completeLogin: (challengeToken, response) =>
        anon.auth.mfa.completeLogin({ challengeToken, factor: { kind: 'passkey', response } }),
      async enrol(accessToken, passkey) {
        const { auth } = await authenticate(deps, `Bearer ${accessToken}`);
        const api = callerFor(deps, auth, req);
        const { enrolmentToken, options } = await api.auth.mfa.passkey.begin();
        const enrolled = await api.auth.mfa.passkey.confirm({
          enrolmentToken,
          response: passkey.register(options),
        });
        return enrolled.accessToken;
      },
    },
    mine,
    credentials,
  );
}

/** `NAME=value` lines as docker --env-file reads them: everything after the first `=`, verbatim. */
export function dockerEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
