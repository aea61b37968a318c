// The services a request needs, built once at start (createDeps) and passed down: no
// module-level singletons, nothing reads process.env past server/config.ts.
import type { TRPCError } from '@trpc/server';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { createDatabase, type Database, type Db } from '../db/client.ts';
import { assertViewsReady } from '../db/views.ts';
import { ensureSuperadmin } from './auth/bootstrap.ts';
import { loadKeyRing } from './auth/keys.ts';
import { createPasswordHasher, type PasswordHasher } from './auth/passwords.ts';
import { RevocationList, startRevocationSync } from './auth/revocation.ts';
import { TokenService } from './auth/tokens.ts';
import type { Config } from './config.ts';
import { loadNotesCipher, type NotesCipher } from './crypto/notes.ts';
import { noteCall } from './http/calls.ts';
import { createRateLimits } from './limits/index.ts';
import type { LoginLimiter } from './limits/login.ts';
import { serializeError } from './logging.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import type { Context } from './trpc/context.ts';
import type { Meta } from './trpc/init.ts';

export interface ProcedureReport {
  path: string;
  type: string;
  ok: boolean;
  code: string;
  /** The error a failed call answered with (e.g. TOO_MANY_REQUESTS with retryAfterSeconds). */
  error?: TRPCError | undefined;
  durationMs: number;
  queries: number;
  ctx: Context;
}

/** Extension points the HTTP server wires up (metrics, rate limits). */
export interface ProcedureHooks {
  beforeProcedure?: (call: { ctx: Context; path: string; meta: Meta | undefined }) => Promise<void> | void;
  onProcedure?: (report: ProcedureReport) => void;
}

export interface AppDeps {
  config: Config;
  database: Database;
  /** The primary: writes and read-after-write. */
  db: Db;
  /** Read-only procedures (admin lists, analytics, directory); the primary when no replicas. */
  readDb: Db;
  /** Shared Redis (rate limits, revocation pub/sub); undefined → process memory, one instance. */
  redis: Redis | undefined;
  tokens: TokenService;
  revocations: RevocationList;
  passwords: PasswordHasher;
  /** Seals and opens session notes (AES-256-GCM, key ids for rotation). */
  notes: NotesCipher;
  loginLimiter: LoginLimiter;
  /** Prometheus registry and recorders (server/metrics.ts). */
  metrics: Metrics;
  log: Logger;
  hooks: ProcedureHooks;
  /** Closers run in order at shutdown (after HTTP has drained). */
  closers: Array<() => Promise<void>>;
}

/** Paths and keys pino must never write: tokens, passwords, notes, answers. */
const SECRET_KEYS = [
  'password',
  'currentPassword',
  'newPassword',
  'refreshToken',
  'accessToken',
  'token',
  'note',
  'answers',
];
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  // At the top of a log object and up to two levels down ({ input: { password } }, ...).
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

/** The server's logger; `destination` (default stdout) lets tests read what it writes. */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  destination?: pino.DestinationStream,
): Logger {
  const options = {
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
  };
  return destination ? pino(options, destination) : pino(options);
}

export async function connectRedis(url: string): Promise<Redis> {
  // No offline queue and a short command timeout: when Redis is down, callers fail fast
  // and fall back (general limits) or fail closed (login), never stall.
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: 1000,
    maxRetriesPerRequest: 1,
    // A command in flight when the connection drops fails instead of being sent again
    // after the reconnect: a rate-limit point is never counted twice.
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2000,
  });
  redis.on('error', () => {}); // reconnects by itself; state is reported by /readyz
  await redis.connect();
  return redis;
}

export async function createDeps(
  config: Config,
  opts: { log?: Logger; database?: Database } = {},
): Promise<AppDeps> {
  const log = opts.log ?? createLogger(config);
  const database =
    opts.database ??
    (await createDatabase({
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolMax: config.DATABASE_POOL_MAX,
      poolWaitMs: config.DATABASE_POOL_WAIT_MS,
      replicaUrls: config.DATABASE_REPLICA_URLS,
    }));
  if (database.kind === 'pglite') {
    log.warn(`no DATABASE_URL: using the embedded PGlite database under ${config.DATA_DIR}`);
    await database.migrate();
  }
  await assertViewsReady(database.db);
  const keys = await loadKeyRing(config, (msg) => log.warn(msg));
  const notes = loadNotesCipher(config, (msg) => log.warn(msg));
  const tokens = new TokenService({
    keys,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  const redis = config.REDIS_URL ? await connectRedis(config.REDIS_URL) : undefined;
  if (!redis) log.warn('no REDIS_URL: rate limits and revocation live in process memory (one instance only)');
  const closers: AppDeps['closers'] = [];
  // Revocation state: loaded from Postgres, kept in sync through Redis pub/sub. Its
  // closer runs first, before Redis and the database close.
  const revocations = new RevocationList();
  closers.push(
    await startRevocationSync({
      list: revocations,
      db: database.db,
      accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      log,
      redis,
      channel: `${config.JWT_ISSUER}:revocations`,
    }),
  );
  const passwords = createPasswordHasher(config.PASSWORD_HASH_COST);
  if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
    const outcome = await ensureSuperadmin(database.db, passwords, config.ADMIN_EMAIL, config.ADMIN_PASSWORD);
    if (outcome === 'created') log.info('created the ADMIN_EMAIL superadmin');
  } else if (config.ADMIN_EMAIL) log.warn('ADMIN_EMAIL is set without ADMIN_PASSWORD: no superadmin created');
  const metrics = createMetrics({ database, revocations });
  const limits = createRateLimits(config, redis);
  if (redis) closers.push(async () => void (await redis.quit().catch(() => redis.disconnect())));
  closers.push(() => database.close());
  return {
    config,
    database,
    db: database.db,
    readDb: database.readDb ?? database.db,
    redis,
    tokens,
    revocations,
    passwords,
    notes,
    loginLimiter: limits.loginLimiter,
    metrics,
    log,
    hooks: {
      beforeProcedure: limits.beforeProcedure,
      onProcedure(report) {
        metrics.procedure(report);
        noteCall(report);
      },
    },
    closers,
  };
}

/** Runs the closers (Redis, database) once, in order. */
export async function closeDeps(deps: AppDeps): Promise<void> {
  for (const close of deps.closers.splice(0)) await close();
}
