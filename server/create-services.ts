// Builds the services (server/services.ts) at start, and closes them at shutdown.

import { sql } from 'drizzle-orm';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import {
  createDatabase,
  type Database,
  detectTransactionPooler,
  explainPoolerError,
  queryRows,
} from '../db/client.ts';
import { ReadRouter } from '../db/replicas.ts';
import { assertViewsReady } from '../db/views.ts';
import { ensureSuperadmin } from './auth/bootstrap.ts';
import { loadKeyRing } from './auth/keys.ts';
import { createPasswordHasher } from './auth/passwords.ts';
import { RevocationList, startRevocationSync } from './auth/revocation.ts';
import { TokenService } from './auth/tokens.ts';
import type { Config } from './config.ts';
import { loadNotesCipher } from './crypto/notes.ts';
import { emailSignInNotifier } from './email/sign-in-notice.ts';
import { JobQueue } from './jobs/queue.ts';
import { DownloadBudget } from './limits/downloads.ts';
import { createHashGate } from './limits/hashing.ts';
import { createRateLimits } from './limits/index.ts';
import { CrisisFeed, crisisQueueFigures } from './live/crisis-feed.ts';
import { CrisisWatch } from './live/crisis-watch.ts';
import { requestIdMixin, serializeError, writesRequestId } from './logging.ts';
import { createMetrics } from './metrics.ts';
import { emailChannel } from './notify/email.ts';
import type { NotificationChannel } from './notify/index.ts';
import { createPaymentProvider } from './payments/razorpay.ts';
import { closeRedis, connectRedis, hasRedis } from './redis.ts';
import type { AppDeps } from './services.ts';

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

/**
 * The server's logger: JSON lines on stdout; on a terminal, pino-pretty's readable lines when
 * it is installed (a development dependency). `destination` lets tests read what it writes.
 */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  destination: pino.DestinationStream | undefined = prettyOnTerminal(),
): Logger {
  const options = {
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
    // The request id of Fastify's per-request loggers (requestChildLogger).
    mixin: requestIdMixin,
  };
  return writesRequestId(destination ? pino(options, destination) : pino(options));
}

function prettyOnTerminal(): pino.DestinationStream | undefined {
  if (!process.stdout.isTTY) return undefined;
  try {
    import.meta.resolve('pino-pretty');
  } catch {
    return undefined; // not installed (the production image): JSON
  }
  return pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } });
}

export async function createDeps(
  config: Config,
  opts: { log?: Logger; database?: Database } = {},
): Promise<AppDeps> {
  const log = opts.log ?? createLogger(config);
  // First: an unreachable Redis fails the start within REDIS_START_DEADLINE_MS, naming REDIS_URL or REDIS_SENTINELS.
  const redis = hasRedis(config) ? await connectRedis(config, log) : undefined;
  if (!redis)
    log.warn(
      'no REDIS_URL or REDIS_SENTINELS: rate limits and revocation live in process memory (one instance only)',
    );
  // A transaction pooler the configuration does not mention would lose session state
  // between statements: refuse to start, naming the setting.
  if (!opts.database && config.DATABASE_URL && config.DATABASE_POOLER === 'none') {
    if (await detectTransactionPooler(config.DATABASE_URL))
      throw new Error(
        'DATABASE_URL leads to a transaction pooler (session state does not last between statements): set DATABASE_POOLER=transaction',
      );
  }
  const database =
    opts.database ??
    (await createDatabase({
      url: config.DATABASE_URL,
      dataDir: config.DATA_DIR,
      poolMax: config.DATABASE_POOL_MAX,
      poolWaitMs: config.DATABASE_POOL_WAIT_MS,
      callTimeoutMs: config.DATABASE_CALL_TIMEOUT_MS,
      replicaUrls: config.DATABASE_REPLICA_URLS,
      pooler: config.DATABASE_POOLER,
    }));
  if (config.DATABASE_POOLER === 'transaction') {
    // The session settings are the database's defaults here (migration 0016): say so if not.
    const [row] = await queryRows(
      database.db,
      z.object({ statement_timeout: z.string() }),
      sql`SHOW statement_timeout`,
    );
    if (row?.statement_timeout === '0')
      log.warn(
        'DATABASE_POOLER=transaction and the database has no statement_timeout default: run npm run db:migrate as its owner (docs/operations.md)',
      );
  }
  if (database.kind === 'pglite') {
    log.warn(`no DATABASE_URL: using the embedded PGlite database under ${config.DATA_DIR}`);
    await database.migrate();
  }
  // The first statement: a pooler that refuses the session settings is named here too.
  await assertViewsReady(database.db).catch((err: unknown) => {
    throw explainPoolerError(err);
  });
  const keys = await loadKeyRing(config, (msg) => log.warn(msg));
  const notes = loadNotesCipher(config, (msg) => log.warn(msg));
  const tokens = new TokenService({
    keys,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  const closers: AppDeps['closers'] = [];
  // The revocation gauge is read at scrape time, when the list exists.
  const metrics = createMetrics({
    pools: database.pools ?? [],
    revocationEntries: () => revocations.size,
    replicas: () => reads?.states ?? [],
    crisisQueue: () => crisisQueueFigures(database.db),
    queues: () => queue.figures(),
  });
  // Read replicas: health and lag checked every second; reads routed per call (db/replicas.ts).
  const reads = database.replicas?.length
    ? new ReadRouter(database.db, database.pg!, database.replicas, {
        maxLagMs: config.DATABASE_REPLICA_MAX_LAG_MS,
        redis,
        keyPrefix: config.JWT_ISSUER,
        onFallback: (reason) => metrics.replicaFallback(reason),
      })
    : undefined;
  if (reads) {
    await reads.start();
    closers.push(async () => reads.stop());
  }
  // Revocation state: loaded from Postgres, kept in sync through Redis pub/sub. Its
  // closer runs first, before Redis and the database close.
  const revocations = new RevocationList((event) => metrics.revocation(event));
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
  const limits = createRateLimits(config, redis);
  // The queue (producer and maintenance) in every process; its workers start apart
  // (server/jobs/workers.ts). It stops before the database closes.
  const queue = await JobQueue.start(config, database, log);
  closers.push(() => queue.stop(config.SHUTDOWN_TIMEOUT_MS));
  // The live crisis queue: reads the event log, and with Redis hears the other instances.
  const crisisFeed = new CrisisFeed({
    db: database.db,
    log,
    redis,
    channel: `${config.JWT_ISSUER}:crisis`,
    revocations,
    maxPerUser: config.CRISIS_SUBSCRIPTIONS_PER_USER,
    maxPerProcess: config.SUBSCRIPTIONS_PER_PROCESS,
  });
  await crisisFeed.start();
  closers.push(() => crisisFeed.stop());
  // Crisis notices by email, through the job queue (SMS or push: further channels here).
  const notificationChannels: NotificationChannel[] = [emailChannel({ queue, notes })];
  const crisisWatch = new CrisisWatch({
    db: database.db,
    log,
    channels: notificationChannels,
    feed: crisisFeed,
    escalateAfterMinutes: config.CRISIS_ESCALATE_AFTER_MINUTES,
    checkIntervalMs: config.CRISIS_ESCALATION_CHECK_MS,
    onEscalated: (n) => metrics.crisisEscalated(n),
  });
  if (config.JOBS_ENABLED) {
    crisisWatch.start();
    // Before the feed and the pool close: a check in progress finishes.
    closers.unshift(() => crisisWatch.stop());
  }
  if (redis) closers.push(() => closeRedis(redis));
  closers.push(() => database.close());
  return {
    config,
    database,
    db: database.db,
    readDb: reads?.db ?? database.db,
    reads,
    redis,
    tokens,
    revocations,
    passwords,
    notes,
    loginLimiter: limits.loginLimiter,
    signInNotifier: emailSignInNotifier({ queue, notes }, database.db),
    hashGate: createHashGate({
      concurrency: config.PASSWORD_HASH_CONCURRENCY,
      perIp: config.PASSWORD_HASH_PER_IP,
      queue: config.PASSWORD_HASH_QUEUE,
    }),
    quotas: limits.quotas,
    downloads: new DownloadBudget({
      perUser: config.DOWNLOADS_PER_USER,
      perProcess: config.DOWNLOADS_PER_PROCESS,
      idleSeconds: config.DOWNLOAD_IDLE_SECONDS,
    }),
    payments: createPaymentProvider(config),
    crisisFeed,
    crisisWatch,
    notificationChannels,
    queue,
    metrics,
    log,
    hooks: {
      beforeProcedure: limits.beforeProcedure,
      onProcedure: (report) => metrics.procedure(report),
    },
    closers,
  };
}

/** Runs the closers (Redis, database) once, in order. */
export async function closeDeps(deps: AppDeps): Promise<void> {
  for (const close of deps.closers.splice(0)) await close();
}
