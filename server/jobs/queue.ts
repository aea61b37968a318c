// The durable job queue: pg-boss (its schema installed by migrations/0025) on the application's own PostgreSQL (or the embedded
// PGlite), no other infrastructure (docs/decisions/job-queue.md). Jobs are enqueued in the
// transaction of the business write that causes them (`enqueue(tx, ...)`: committed write
// ⇒ job, rolled back ⇒ no job); workers retry with exponential backoff up to a bound, then
// the job is failed and a copy goes to the queue's dead-letter queue, where the admin
// console shows it (admin.jobs.*) and `job_queue_dead_letters` raises an alert.
//
// pg-boss runs its statements through the application's own database client: postgres.js
// (so DATABASE_POOLER=transaction's unnamed statements apply to it too, and no LISTEN/NOTIFY
// is used: polling) or PGlite's single connection.
import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import {
  type DrizzleTransactionLike,
  fromDrizzle,
  fromPglite,
  type Db as IDatabase,
  type Job,
  PgBoss,
  type Queue,
} from 'pg-boss';
import type { Logger } from 'pino';
import type postgres from 'postgres';
import type { Database, Executor } from '../../db/client.ts';
import type { Config } from '../config.ts';

/** How often pg-boss refreshes its cached queue counts (what a worker's burst reads). */
const QUEUE_CACHE_SECONDS = 5;

/** The schema pg-boss installs and migrates itself (at start, under its advisory lock). */
export const QUEUE_SCHEMA = 'pgboss';

/** Every queue of the product and its dead-letter queue. */
export const QUEUES = {
  /** One email per job (server/email): to, template, locale, variables. */
  email: 'email',
  /** Account work whose outcome a request must not reveal (server/domain/account-email.ts). */
  account: 'account',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const deadLetterOf = (name: QueueName) => `${name}-dead`;

export type QueueConfig = Pick<
  Config,
  | 'QUEUE_POLL_SECONDS'
  | 'QUEUE_MAX_ATTEMPTS'
  | 'QUEUE_RETRY_DELAY_SECONDS'
  | 'QUEUE_RETRY_DELAY_MAX_SECONDS'
  | 'QUEUE_JOB_TIMEOUT_SECONDS'
  | 'QUEUE_MAINTENANCE_SECONDS'
>;

export interface EnqueueOptions {
  /** Not before this instant (or this many seconds from now). */
  startAfter?: Date | number;
  /** At most one queued job with this key per queue (e.g. one verification email per user). */
  singletonKey?: string;
  /** Delete the job this long after it completes (the queue's default: a week). */
  deleteAfterSeconds?: number;
}

/** A queue's figures for /metrics and the admin console. */
export interface QueueFigures {
  name: string;
  /** Jobs waiting (created or retry, start time reached or not). */
  queued: number;
  active: number;
  /** Jobs failed for good, still retained. */
  failed: number;
  /** Age in seconds of the oldest queued job (0 when none). */
  oldestSeconds: number;
  /** Jobs waiting in the dead-letter queue. */
  deadLetters: number;
}

/** One job as the admin console lists it (no payload: it holds addresses and may hold links). */
export interface JobSummary {
  id: string;
  queue: string;
  state: string;
  retryCount: number;
  retryLimit: number;
  createdOn: Date;
  startedOn: Date | null;
  completedOn: Date | null;
  /** The last error's message (worker output), cut to 500 characters. */
  error: string | null;
}

/** pg-boss on postgres.js: parameters through the extended protocol, DDL blocks through the simple one. */
function postgresJsDatabase(pg: postgres.Sql): IDatabase {
  return {
    async executeSql(text, values) {
      if (values && values.length > 0) {
        // As node-postgres (pg-boss's own driver) sends them: a Date as its ISO text, an object
        // as JSON text. postgres.js refuses both as the parameter of an untyped statement
        // (e.g. updateQueue's options: a second instance starting on the same database failed).
        const params = values.map((v) =>
          v instanceof Date
            ? v.toISOString()
            : v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)
              ? JSON.stringify(v)
              : v,
        );
        const rows = await pg.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
        return { rows: [...rows] };
      }
      // A block of several statements (pg-boss's locked BEGIN … COMMIT): one simple query, on
      // a reserved connection (postgres.js refuses BEGIN on a pooled one). One round trip, so
      // a transaction pooler keeps the block on one server connection.
      const reserved = await pg.reserve();
      let result: unknown;
      try {
        result = await reserved.unsafe(text).simple();
      } finally {
        reserved.release();
      }
      const parts = Array.isArray(result) && result.every((r) => Array.isArray(r)) ? result : [result];
      return { rows: (parts as unknown[][]).flatMap((r) => (Array.isArray(r) ? [...r] : [])) };
    },
  };
}

export class JobQueue {
  readonly boss: PgBoss;
  private readonly config: QueueConfig;
  private readonly log: Logger;
  private readonly workers = new Map<string, QueueName>();

  private constructor(boss: PgBoss, config: QueueConfig, log: Logger) {
    this.boss = boss;
    this.config = config;
    this.log = log;
  }

  /**
   * Installs or migrates pg-boss's schema (idempotent, under its advisory lock), starts its
   * maintenance (expiry of stuck jobs, retention) and creates the product's queues.
   */
  static async start(config: QueueConfig, database: Database, log: Logger): Promise<JobQueue> {
    const db =
      database.kind === 'pglite'
        ? fromPglite(database.pglite as PGlite)
        : postgresJsDatabase(database.pg as postgres.Sql);
    const boss = new PgBoss({
      db,
      schema: QUEUE_SCHEMA,
      ...(database.kind === 'pglite' ? { backend: 'pglite' as const } : {}),
      // The schema comes from migrations/0025 (npm run db:migrate), not from a start-up DDL.
      migrate: false,
      createSchema: false,
      // No cron schedules here (node-cron runs the scheduled jobs: server/jobs/index.ts).
      schedule: false,
      supervise: true,
      superviseIntervalSeconds: config.QUEUE_MAINTENANCE_SECONDS,
      monitorIntervalSeconds: config.QUEUE_MAINTENANCE_SECONDS,
      maintenanceIntervalSeconds: Math.max(config.QUEUE_MAINTENANCE_SECONDS, 60),
      // The ready counts a busy worker reads to keep fetching (burstWhenReadyExceeds in work()).
      queueCacheIntervalSeconds: QUEUE_CACHE_SECONDS,
      instanceName: 'manas360',
      openTelemetry: { enabled: false },
    });
    boss.on('error', (err) => log.error({ err }, 'job queue error'));
    boss.on('warning', (w) => log.warn({ warning: w.message }, 'job queue warning'));
    await boss.start();
    const queue = new JobQueue(boss, config, log);
    for (const name of Object.values(QUEUES)) await queue.ensureQueue(name);
    return queue;
  }

  private async ensureQueue(name: QueueName): Promise<void> {
    const dead = deadLetterOf(name);
    const c = this.config;
    const options: Omit<Queue, 'name'> = {
      retryLimit: c.QUEUE_MAX_ATTEMPTS - 1,
      retryDelay: c.QUEUE_RETRY_DELAY_SECONDS,
      retryBackoff: true,
      retryDelayMax: c.QUEUE_RETRY_DELAY_MAX_SECONDS,
      // A job active longer than this (its worker died mid-send) is retried.
      expireInSeconds: c.QUEUE_JOB_TIMEOUT_SECONDS,
      // Completed jobs stay a week for the admin view.
      deleteAfterSeconds: 7 * 86_400,
      deadLetter: dead,
    };
    if (!(await this.boss.getQueue(dead)))
      await this.boss.createQueue(dead, { retryLimit: 0, retentionSeconds: 90 * 86_400 });
    if (await this.boss.getQueue(name)) await this.boss.updateQueue(name, options);
    else await this.boss.createQueue(name, options);
  }

  /**
   * Enqueues a job in the caller's transaction `tx` (one INSERT): the job exists if and
   * only if that transaction commits. Returns the job id.
   */
  async enqueue(tx: Executor, name: QueueName, data: object, opts: EnqueueOptions = {}): Promise<string> {
    const id = await this.boss.send(name, data, {
      // Drizzle's execute() resolves to the driver's result (rows, or { rows }): what the adapter reads.
      db: fromDrizzle(tx as unknown as DrizzleTransactionLike, sql),
      ...(opts.startAfter !== undefined ? { startAfter: opts.startAfter } : {}),
      ...(opts.singletonKey ? { singletonKey: opts.singletonKey } : {}),
      ...(opts.deleteAfterSeconds !== undefined ? { deleteAfterSeconds: opts.deleteAfterSeconds } : {}),
    });
    if (!id) throw new Error(`job not enqueued on ${name}`);
    return id;
  }

  /**
   * Runs `handler` for each job of `name` (this process becomes one of its workers). A
   * handler that throws fails the attempt: retried with backoff, dead-lettered after the last.
   */
  async work<T>(
    name: QueueName,
    concurrency: number,
    handler: (job: Job<T>) => Promise<void>,
    onOutcome?: (outcome: 'completed' | 'failed', seconds: number) => void,
  ): Promise<void> {
    const id = await this.boss.work<T>(
      name,
      {
        batchSize: 1,
        localConcurrency: concurrency,
        pollingIntervalSeconds: this.config.QUEUE_POLL_SECONDS,
        // While more than one job is ready, a worker that got one fetches the next at once instead of
        // after the polling interval: without it, throughput was capped at concurrency ÷
        // interval (8 ÷ 0.5 s = 16 jobs/s) and 100 emails/s queued up for a minute.
        burstWhenReadyExceeds: 1,
      },
      async ([job]) => {
        if (!job) return;
        const started = performance.now();
        try {
          await handler(job);
          onOutcome?.('completed', (performance.now() - started) / 1000);
        } catch (err) {
          onOutcome?.('failed', (performance.now() - started) / 1000);
          this.log.warn({ job: job.id, queue: name, err }, 'job attempt failed');
          throw err;
        }
      },
    );
    this.workers.set(id, name);
  }

  /** Queue depth, oldest job age, failures and dead letters of every queue: 1 statement. */
  async figures(): Promise<QueueFigures[]> {
    const names = Object.values(QUEUES);
    const all = [...names, ...names.map(deadLetterOf)];
    const { rows } = await this.boss.getDb().executeSql(
      `SELECT name,
              count(*) FILTER (WHERE state IN ('created', 'retry'))::int AS queued,
              count(*) FILTER (WHERE state = 'active')::int AS active,
              count(*) FILTER (WHERE state = 'failed')::int AS failed,
              coalesce(extract(epoch FROM now() - min(created_on) FILTER (WHERE state IN ('created', 'retry'))), 0)::float8 AS oldest
       FROM ${QUEUE_SCHEMA}.job WHERE name = ANY($1::text[]) GROUP BY name`,
      [all],
    );
    const by = new Map(
      (rows as Array<{ name: string; queued: number; active: number; failed: number; oldest: number }>).map(
        (r) => [r.name, r],
      ),
    );
    return names.map((name) => {
      const r = by.get(name);
      return {
        name,
        queued: Number(r?.queued ?? 0),
        active: Number(r?.active ?? 0),
        failed: Number(r?.failed ?? 0),
        oldestSeconds: Number(r?.oldest ?? 0),
        deadLetters: Number(by.get(deadLetterOf(name))?.queued ?? 0),
      };
    });
  }

  /** The newest jobs of a queue (or its dead-letter queue) in a state, for the admin view. */
  async list(
    name: string,
    opts: { state?: 'created' | 'retry' | 'active' | 'completed' | 'failed'; limit: number },
  ): Promise<JobSummary[]> {
    const { rows } = await this.boss.getDb().executeSql(
      `SELECT id, name, state::text AS state, retry_count, retry_limit, created_on, started_on, completed_on,
              left(coalesce(output->>'message', output::text), 500) AS error
       FROM ${QUEUE_SCHEMA}.job
       WHERE name = $1 AND ($2::text IS NULL OR state::text = $2::text)
       ORDER BY created_on DESC LIMIT $3::int`,
      [name, opts.state ?? null, opts.limit],
    );
    return (rows as Array<Record<string, unknown>>).map((r) => ({
      id: String(r.id),
      queue: String(r.name),
      state: String(r.state),
      retryCount: Number(r.retry_count),
      retryLimit: Number(r.retry_limit),
      createdOn: new Date(r.created_on as string),
      startedOn: r.started_on ? new Date(r.started_on as string) : null,
      completedOn: r.completed_on ? new Date(r.completed_on as string) : null,
      error: (r.error as string | null) ?? null,
    }));
  }

  /** Moves dead-lettered jobs of `name` back to it (fresh attempts). Returns how many moved. */
  async redrive(name: QueueName, ids?: string[]): Promise<number> {
    return this.boss.redrive(deadLetterOf(name), { destination: name, ...(ids ? { ids } : {}) });
  }

  /** Stops this process's workers; the jobs they hold finish first. */
  async stopWorkers(): Promise<void> {
    for (const [id, name] of this.workers) await this.boss.offWork(name, { id, wait: true });
    this.workers.clear();
  }

  /** Stops the workers (a job in progress finishes, up to the timeout) and maintenance. */
  async stop(timeoutMs = 10_000): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: timeoutMs, close: false });
  }
}
