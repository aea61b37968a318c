// The services a request needs (the contract, types only): built once at start by
// server/create-services.ts and passed down. No module-level singletons; nothing reads
// process.env past server/config.ts. This module sits at the bottom of the import graph.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Database, Db } from '../db/client.ts';
import type { ReadRouter } from '../db/replicas.ts';
import type { PasswordHasher } from './auth/passwords.ts';
import type { RevocationList } from './auth/revocation.ts';
import type { SignInNotifier } from './auth/sign-in-notice.ts';
import type { TokenService } from './auth/tokens.ts';
import type { Config } from './config.ts';
import type { NotesCipher } from './crypto/notes.ts';
import type { JobQueue } from './jobs/queue.ts';
import type { DownloadBudget } from './limits/downloads.ts';
import type { HashGate } from './limits/hashing.ts';
import type { Quotas } from './limits/index.ts';
import type { LoginLimiter } from './limits/login.ts';
import type { CrisisFeed } from './live/crisis-feed.ts';
import type { CrisisWatch } from './live/crisis-watch.ts';
import type { Metrics } from './metrics.ts';
import type { NotificationChannel } from './notify/index.ts';
import type { PaymentProvider } from './payments/razorpay.ts';
import type { ProcedureHooks } from './trpc/hooks.ts';

export interface AppDeps {
  config: Config;
  database: Database;
  /** The primary: writes and read-after-write. */
  db: Db;
  /**
   * Read-only procedures (admin lists, analytics, insights, directory): a healthy replica
   * chosen per call by `reads`, or the primary (no replicas, a caller who just wrote, no
   * replica within the lag bound, outside a query procedure).
   */
  readDb: Db;
  /** Routes read-only calls to replicas (db/replicas.ts); undefined without replicas. */
  reads?: ReadRouter | undefined;
  /** Shared Redis (rate limits, revocation pub/sub); undefined → process memory, one instance. */
  redis: Redis | undefined;
  tokens: TokenService;
  revocations: RevocationList;
  passwords: PasswordHasher;
  /** Seals and opens session notes (AES-256-GCM, key ids for rotation). */
  notes: NotesCipher;
  loginLimiter: LoginLimiter;
  /** Tells staff about a sign-in from a new device (server/auth/sign-in-notice.ts). */
  signInNotifier: SignInNotifier;
  /** Bounds concurrent password hashing per IP and per process (server/limits/hashing.ts). */
  hashGate: HashGate;
  /** Product limits (one export an hour, reports, API-key exchanges): server/limits. */
  quotas: Quotas;
  /** Open downloads per user and process, their backpressure and idle timeout (server/limits/downloads.ts). */
  downloads: DownloadBudget;
  /** The payment provider (Razorpay); undefined when PAYMENTS_ENABLED=false. */
  payments: PaymentProvider | undefined;
  /** The live crisis queue behind crisis.onChange (server/live/crisis-feed.ts). */
  crisisFeed: CrisisFeed;
  /**
   * Notifies on-call staff of new crisis alerts and escalates unacknowledged ones
   * (server/live/crisis-watch.ts); checks only when JOBS_ENABLED.
   */
  crisisWatch: CrisisWatch;
  /** Where crisis notices go (server/notify): the email channel, or a log line without one. */
  notificationChannels: NotificationChannel[];
  /** The durable job queue (pg-boss): enqueue(tx, ...) in a business transaction (server/jobs/queue.ts). */
  queue: JobQueue;
  /** Prometheus registry and recorders (server/metrics.ts). */
  metrics: Metrics;
  log: Logger;
  hooks: ProcedureHooks;
  /** Closers run in order at shutdown (after HTTP has drained). */
  closers: Array<() => Promise<void>>;
}
