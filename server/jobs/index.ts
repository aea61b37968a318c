// Scheduled jobs (node-cron): the views' repair on VIEW_REFRESH_CRON, the
// daily clean-up of expired refresh tokens, the audit-log retention and the history
// partitions ahead (migration 0031), the expiry of
// subscriptions whose period ended (every minute), the erasure of accounts whose
// deletion grace period is over (every 10 minutes) and the deletion of registrations never
// confirmed within PENDING_ACCOUNT_DAYS (hourly). Every instance
// schedules them; each firing runs inside a transaction that first takes a
// transaction-scoped advisory lock (pg_try_advisory_xact_lock), so exactly one of N
// instances does the work and a firing never overlaps a previous one still running:
// the others skip, and say so in the log and in job_runs_total. The lock is released
// by the commit, also when the process dies. On PGlite (one process) it simply runs.
import { sql } from 'drizzle-orm';
import cron, { type ScheduledTask } from 'node-cron';
import { z } from 'zod';
import { type Database, type Executor, queryRows, withoutDeadline } from '../../db/client.ts';
import { countRow } from '../../db/row.ts';
import { refreshViewsInParallel, type ViewRefresh, viewsStale } from '../../db/views.ts';

import { deletePendingAccounts } from '../domain/auth.ts';
import { eraseDueAccounts } from '../domain/privacy.ts';
import { expireSubscriptions } from '../domain/subscriptions.ts';
import { DELETE_EXPIRED_KEYS } from '../idempotency.ts';
import type { JobOutcome, Metrics } from '../metrics.ts';
import type { AppDeps } from '../services.ts';

/** First key of every job lock (pg_try_advisory_xact_lock(int, int)); the job's id is the second. */
export const JOB_LOCK_NAMESPACE = 360_360;

export interface JobResult {
  outcome: JobOutcome;
  durationMs?: number;
  /** What the job reports (views refreshed, rows deleted). */
  detail?: Record<string, unknown>;
}

interface Job {
  name: string;
  lockId: number;
  /** Returns undefined to say "nothing to do" (skipped_fresh). */
  work(tx: Executor, deps: JobDeps): Promise<Record<string, unknown> | undefined>;
}

type JobDeps = Pick<AppDeps, 'config' | 'database' | 'log' | 'revocations'> & {
  metrics?: Metrics | undefined;
  /** The job queue (emails a job causes); the product's runner always has it. */
  queue?: AppDeps['queue'];
  notes?: AppDeps['notes'];
};

export const viewRefreshJob: Job = {
  name: 'view-refresh',
  lockId: 1,
  async work(tx, deps) {
    if (!(await viewsStale(tx))) return undefined;
    // Triggers keep the views current (migration 0029); this is the repair. This transaction
    // holds the job lock; the views are compared at once on other connections.
    const views: ViewRefresh[] = await refreshViewsInParallel(deps.database);
    deps.metrics?.viewRefresh(views);
    return { views };
  },
};

export const refreshTokenCleanupJob: Job = {
  name: 'refresh-token-cleanup',
  lockId: 2,
  async work(tx) {
    const [row] = await queryRows(
      tx,
      countRow,
      sql`WITH d AS (DELETE FROM refresh_tokens WHERE expires_at < now() RETURNING 1) SELECT count(*)::int AS n FROM d`,
    );
    return { deleted: row?.n ?? 0 };
  },
};

export const idempotencyCleanupJob: Job = {
  name: 'idempotency-cleanup',
  lockId: 6,
  async work(tx) {
    const [row] = await queryRows(tx, countRow, DELETE_EXPIRED_KEYS);
    return { deleted: row?.n ?? 0 };
  },
};

export const auditRetentionJob: Job = {
  name: 'audit-retention',
  lockId: 3,
  async work(tx, deps) {
    const days = deps.config.AUDIT_RETENTION_DAYS;
    const [row] = await queryRows(
      tx,
      countRow,
      // The log is append-only (migrations/0015): entries leave only through this function.
      sql`SELECT purge_audit_log(${days}::int) AS n`,
    );
    return { deleted: row?.n ?? 0, retentionDays: days };
  },
};

/** Months of history partitions kept ready ahead of the current one (migration 0031). */
export const HISTORY_PARTITIONS_AHEAD = 3;

/**
 * The monthly partitions of mood_entries, assessments and audit_log for this month and the
 * next HISTORY_PARTITIONS_AHEAD (docs/decisions/partitioning.md): daily, so a missed day or
 * two changes nothing; rows whose month has no partition land in the DEFAULT partition.
 */
export const historyPartitionsJob: Job = {
  name: 'history-partitions',
  lockId: 31,
  async work(tx) {
    const [row] = await queryRows(
      tx,
      countRow,
      sql`SELECT ensure_history_partitions(${HISTORY_PARTITIONS_AHEAD}::int) AS n`,
    );
    return row && row.n > 0 ? { created: row.n } : undefined;
  },
};

/** Subscriptions whose paid period has ended: expired, claims back to free at once. */
export const subscriptionExpiryJob: Job = {
  name: 'subscription-expiry',
  lockId: 4,
  async work(tx, deps) {
    const { expired } = await expireSubscriptions(tx, deps.revocations);
    return expired > 0 ? { expired } : undefined;
  },
};

/** Accounts whose deletion grace period is over: erased (server/domain/privacy.ts). */
export const accountErasureJob: Job = {
  name: 'account-erasure',
  lockId: 5,
  async work(tx, deps) {
    const { queue, notes } = deps;
    if (!queue || !notes) throw new Error('the account erasure job needs the job queue (its last email)');
    const { erased } = await eraseDueAccounts(tx, { revocations: deps.revocations, queue, notes });
    return erased > 0 ? { erased } : undefined;
  },
};

/**
 * Registrations never confirmed (status 'pending') older than PENDING_ACCOUNT_DAYS: deleted,
 * with their link, consent and subscription, their audit entries scrubbed
 * (docs/decisions/registration-privacy.md).
 */
export const pendingAccountCleanupJob: Job = {
  name: 'pending-account-cleanup',
  lockId: 34,
  async work(tx, deps) {
    const days = deps.config.PENDING_ACCOUNT_DAYS;
    const deleted = await deletePendingAccounts(
      tx,
      sql`created_at < now() - make_interval(days => ${days}::int)`,
    );
    return deleted > 0 ? { deleted, pendingDays: days } : undefined;
  },
};

const lockRow = z.object({ locked: z.boolean() });

/**
 * Runs fn in a transaction holding the job's advisory lock, or returns locked: false at
 * once when another session (instance) holds it. Jobs may run longer than the pool's
 * 30 s statement timeout, so the transaction raises it for itself.
 */
export async function withJobLock<T>(
  database: Database,
  lockId: number,
  fn: (tx: Executor) => Promise<T>,
  tick?: { job: string; at: Date },
): Promise<{ locked: true; value: T } | { locked: false; done?: true }> {
  if (database.kind === 'pglite') return { locked: true, value: await fn(database.db) };
  return database.db.transaction(async (tx) => {
    // One statement: the lock, and (when it is ours) longer timeouts for the rest of this
    // transaction, which may wait idle while a job works on other connections.
    const [row] = await queryRows(
      tx,
      lockRow,
      sql`SELECT locked,
                 CASE WHEN locked THEN set_config('statement_timeout', '15min', true) END,
                 CASE WHEN locked THEN set_config('idle_in_transaction_session_timeout', '15min', true) END
          FROM (SELECT pg_try_advisory_xact_lock(${JOB_LOCK_NAMESPACE}, ${lockId}) AS locked) AS l`,
    );
    if (!row?.locked) return { locked: false as const };
    // A scheduled firing: every instance fires each tick; the lock only keeps them from
    // overlapping, so the first records the tick and the later ones find it done.
    if (tick) {
      const claimed = await queryRows(
        tx,
        z.object({ job: z.string() }),
        sql`INSERT INTO job_ticks (job, tick) VALUES (${tick.job}, ${tick.at.toISOString()})
            ON CONFLICT (job) DO UPDATE SET tick = EXCLUDED.tick WHERE job_ticks.tick < EXCLUDED.tick
            RETURNING job`,
      );
      if (claimed.length === 0) return { locked: false as const, done: true as const };
    }
    return { locked: true as const, value: await fn(tx) };
  });
}

export class JobRunner {
  private readonly running = new Map<string, Promise<JobResult>>();
  private tasks: ScheduledTask[] = [];

  private readonly deps: JobDeps;
  constructor(deps: JobDeps) {
    this.deps = deps;
  }

  /** Runs a job now (the schedule calls this too, with its tick); never throws. */
  run(job: Job, tick?: Date): Promise<JobResult> {
    const { log, metrics } = this.deps;
    if (this.running.has(job.name)) {
      // This instance's previous firing still runs: do not queue a second one behind it.
      log.warn({ job: job.name, outcome: 'skipped_running' }, 'job skipped: the previous run still runs');
      metrics?.job(job.name, 'skipped_running');
      return Promise.resolve({ outcome: 'skipped_running' });
    }
    const started = performance.now();
    // Without the requests' call deadline: a refresh may take minutes (statement_timeout bounds it).
    const done = withoutDeadline(() =>
      withJobLock(
        this.deps.database,
        job.lockId,
        (tx) => job.work(tx, this.deps),
        tick && { job: job.name, at: tick },
      ),
    )
      .then((res): JobResult => {
        const durationMs = Math.round(performance.now() - started);
        if (!res.locked && res.done) {
          log.info({ job: job.name, outcome: 'skipped_done' }, 'job skipped: another instance ran this tick');
          metrics?.job(job.name, 'skipped_done');
          return { outcome: 'skipped_done' };
        }
        if (!res.locked) {
          log.info({ job: job.name, outcome: 'skipped_locked' }, 'job skipped: another run holds its lock');
          metrics?.job(job.name, 'skipped_locked');
          return { outcome: 'skipped_locked' };
        }
        const outcome: JobOutcome = res.value ? 'ran' : 'skipped_fresh';
        log.info({ job: job.name, outcome, durationMs, ...res.value }, `job ${job.name}: ${outcome}`);
        metrics?.job(job.name, outcome, outcome === 'ran' ? durationMs / 1000 : undefined);
        return res.value ? { outcome, durationMs, detail: res.value } : { outcome, durationMs };
      })
      .catch((err: unknown): JobResult => {
        log.error({ job: job.name, err }, `job ${job.name} failed`);
        metrics?.job(job.name, 'failed');
        return { outcome: 'failed' };
      })
      .finally(() => this.running.delete(job.name));
    this.running.set(job.name, done);
    return done;
  }

  /** Schedules the jobs. */
  start(): void {
    const schedule = (expr: string, job: Job) =>
      cron.schedule(expr, (ctx) => void this.run(job, ctx.date), { name: job.name, noOverlap: false });
    this.tasks = [
      schedule(this.deps.config.VIEW_REFRESH_CRON, viewRefreshJob),
      schedule('17 3 * * *', refreshTokenCleanupJob),
      schedule('47 3 * * *', auditRetentionJob),
      schedule('27 * * * *', idempotencyCleanupJob),
      schedule('7 2 * * *', historyPartitionsJob),
      schedule('* * * * *', subscriptionExpiryJob),
      schedule('*/10 * * * *', accountErasureJob),
      schedule('37 * * * *', pendingAccountCleanupJob),
    ];
  }

  /** Stops the schedule and waits for running jobs (a refresh in progress finishes). */
  async stop(): Promise<void> {
    await Promise.all(this.tasks.map((t) => t.destroy()));
    this.tasks = [];
    await Promise.all(this.running.values());
  }
}
