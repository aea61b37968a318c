// Prometheus metrics (GET /metrics): per-procedure request counts, latency and SQL
// statements (so "0 queries for auth" is visible in production), the connection pool,
// jobs and view refreshes, rate-limit rejections, revocations, the crisis queue and process
// metrics.
// One registry per process; with WORKERS > 1 the primary aggregates every worker's
// registry (server/cluster.ts) so a scrape sees the whole host: counters and histograms
// are summed, and each gauge says how it adds up (`aggregator`): the pool gauges are the
// host's connections (sum); a state every worker holds a copy of, or that only the worker
// that ran a job knows, is the largest value (max), never the sum.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolGate } from '../db/client.ts';
import type { FallbackReason, ReplicaState } from '../db/replicas.ts';
import type { ViewRefresh } from '../db/views.ts';
import type { RevocationEvent } from './auth/revocation.ts';
import type { QueueFigures } from './jobs/queue.ts';
import type { ProcedureReport } from './trpc/hooks.ts';

export type JobOutcome =
  | 'ran'
  | 'skipped_fresh'
  | 'skipped_locked'
  | 'skipped_done'
  | 'skipped_running'
  | 'failed';

export interface Metrics {
  registry: Registry;
  procedure(report: ProcedureReport): void;
  job(name: string, outcome: JobOutcome, seconds?: number): void;
  viewRefresh(views: ViewRefresh[]): void;
  /** A read-only call served by the primary although replicas are configured, and why. */
  replicaFallback(reason: FallbackReason): void;
  /** A revocation applied by this process (RevocationList's onApply). */
  revocation(event: RevocationEvent): void;
  /** Crisis alerts escalated by this process's duty check. */
  crisisEscalated(count: number): void;
  /** A crisis alert acknowledged here, seconds after it was raised. */
  crisisAcknowledged(seconds: number): void;
  /** One attempt of a queued job worked by this process. */
  queueJob(queue: string, outcome: 'completed' | 'failed', seconds: number): void;
}

export interface MetricSources {
  pools: readonly PoolGate[];
  /** Revocation entries held in memory (read at scrape time). */
  revocationEntries: () => number;
  /** The read replicas' last health checks (read at scrape time). */
  replicas?: () => readonly ReplicaState[];
  /** Open crisis alerts and the age of the oldest, in seconds (one query, at scrape time). */
  crisisQueue?: () => Promise<{ open: number; oldestSeconds: number }>;
  /** The job queue's figures (one statement; read at scrape time, at most every 5 s). */
  queues?: () => Promise<QueueFigures[]>;
}

const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names three gauges like counters (promtool check metrics: "non-counter
  // metrics should not have _total suffix"); each is the sum of the gauge by type beside
  // it (nodejs_active_handles{type} etc.), so nothing is lost without them.
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
  const registers = [registry];

  const requests = new Counter({
    name: 'trpc_requests_total',
    help: 'tRPC procedure calls by procedure and result code',
    labelNames: ['procedure', 'code'],
    registers,
  });
  const duration = new Histogram({
    name: 'trpc_request_duration_seconds',
    help: 'tRPC procedure call duration by procedure and result code',
    labelNames: ['procedure', 'code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const queries = new Counter({
    name: 'db_queries_total',
    help: 'SQL statements issued by tRPC procedure calls',
    labelNames: ['procedure'],
    registers,
  });
  const rejections = new Counter({
    name: 'rate_limit_rejections_total',
    help: 'Calls refused with TOO_MANY_REQUESTS, by procedure',
    labelNames: ['procedure'],
    registers,
  });
  const pools = sources.pools;
  new Gauge({
    name: 'db_pool_connections_in_use',
    help: 'Pooled connections running a statement or transaction',
    labelNames: ['pool'],
    registers,
    collect() {
      for (const p of pools) this.set({ pool: p.name }, p.inUse);
    },
  });
  new Gauge({
    name: 'db_pool_waiting',
    help: 'Statements waiting for a pooled connection',
    labelNames: ['pool'],
    registers,
    collect() {
      for (const p of pools) this.set({ pool: p.name }, p.waiting);
    },
  });
  new Gauge({
    name: 'db_pool_size',
    help: 'Connections in the pool (DATABASE_POOL_MAX)',
    labelNames: ['pool'],
    registers,
    collect() {
      for (const p of pools) this.set({ pool: p.name }, p.size);
    },
  });
  new Counter({
    name: 'db_pool_wait_timeouts_total',
    help: 'Requests refused (503) after waiting DATABASE_POOL_WAIT_MS for a connection',
    labelNames: ['pool'],
    registers,
    collect() {
      this.reset();
      for (const p of pools) this.inc({ pool: p.name }, p.timeouts);
    },
  });
  new Counter({
    name: 'db_call_deadline_timeouts_total',
    help: 'Requests answered 503 after waiting DATABASE_CALL_TIMEOUT_MS for a statement or transaction',
    labelNames: ['pool'],
    registers,
    collect() {
      this.reset();
      for (const p of pools) this.inc({ pool: p.name }, p.deadlines);
    },
  });
  new Counter({
    name: 'db_pool_permits_reclaimed_total',
    help: 'Pool permits taken back from a statement or transaction that never ended (a connection broken mid-write)',
    labelNames: ['pool'],
    registers,
    collect() {
      this.reset();
      for (const p of pools) this.inc({ pool: p.name }, p.reclaimed);
    },
  });
  const jobRuns = new Counter({
    name: 'job_runs_total',
    help: 'Scheduled job firings by outcome (ran, skipped_fresh, skipped_locked, skipped_done, skipped_running, failed)',
    labelNames: ['job', 'outcome'],
    registers,
  });
  const jobDuration = new Histogram({
    name: 'job_duration_seconds',
    help: 'Duration of scheduled jobs that ran',
    labelNames: ['job'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const viewSeconds = new Gauge({
    name: 'view_refresh_duration_seconds',
    help: 'Duration of the last repair (full comparison with its definition) of each view',
    labelNames: ['view'],
    aggregator: 'max',
    registers,
  });
  const viewRows = new Gauge({
    name: 'view_refresh_rows',
    help: 'Rows in each view after its last repair',
    labelNames: ['view'],
    aggregator: 'max',
    registers,
  });
  const viewRepaired = new Gauge({
    name: 'view_repaired_rows',
    help: 'Rows the last repair of each view found different from its definition (0: the triggers kept it current)',
    labelNames: ['view'],
    aggregator: 'max',
    registers,
  });
  const revocations = new Counter({
    name: 'revocations_total',
    help: 'Revocations applied by this process (its own and those learned from other instances)',
    labelNames: ['kind'],
    registers,
  });
  new Gauge({
    name: 'revocation_entries',
    help: 'Revocation entries held in memory (each worker holds the whole list: the largest)',
    registers,
    aggregator: 'max',
    collect() {
      this.set(sources.revocationEntries());
    },
  });
  new Gauge({
    name: 'db_replica_up',
    help: 'Whether the read replica answered its last health check (1) or not (0)',
    labelNames: ['replica'],
    registers,
    aggregator: 'min',
    collect() {
      for (const r of sources.replicas?.() ?? []) this.set({ replica: r.name }, r.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'db_replica_lag_seconds',
    help: 'How far the read replica was behind the primary at its last health check',
    labelNames: ['replica'],
    registers,
    aggregator: 'max',
    collect() {
      for (const r of sources.replicas?.() ?? []) if (r.up) this.set({ replica: r.name }, r.lagMs / 1000);
    },
  });
  const fallbacks = new Counter({
    name: 'db_replica_fallbacks_total',
    help: 'Read-only calls served by the primary although replicas are configured (read_your_writes, unhealthy, error)',
    labelNames: ['reason'],
    registers,
  });
  // The crisis queue (issue 27): what waits now, how long acknowledging took, escalations.
  // The gauges read the database, which every worker shares: the largest, not the sum.
  // One query at scrape time sets both gauges: the first collected reads, the second follows.
  const crisisOldest = new Gauge({
    name: 'crisis_oldest_open_alert_age_seconds',
    help: 'How long the oldest unacknowledged crisis alert has waited (0 when none)',
    aggregator: 'max',
    registers: [],
  });
  new Gauge({
    name: 'crisis_alerts_open',
    help: 'Crisis alerts not yet acknowledged',
    registers,
    aggregator: 'max',
    async collect() {
      if (!sources.crisisQueue) return;
      try {
        const q = await sources.crisisQueue();
        this.set(q.open);
        crisisOldest.set(q.oldestSeconds);
      } catch {
        // The database is unreachable: the last values stay (readiness reports the outage).
      }
    },
  });
  registry.registerMetric(crisisOldest);
  const crisisAckSeconds = new Histogram({
    name: 'crisis_time_to_acknowledge_seconds',
    help: 'Time from a crisis alert being raised to its acknowledgement',
    buckets: [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600, 86_400],
    registers,
  });
  const crisisEscalations = new Counter({
    name: 'crisis_escalations_total',
    help: 'Crisis alerts escalated to the admins (each level counts once)',
    registers,
  });
  const queueAttempts = new Counter({
    name: 'job_queue_attempts_total',
    help: 'Attempts of queued jobs worked by this process, by queue and outcome (completed, failed)',
    labelNames: ['queue', 'outcome'],
    registers,
  });
  const queueAttemptSeconds = new Histogram({
    name: 'job_queue_attempt_duration_seconds',
    help: 'Duration of attempts of queued jobs (an email: render and SMTP send)',
    labelNames: ['queue'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  // The queue's state is the database's: every process reads the same figures (max, not sum).
  let figures: { at: number; value: Promise<QueueFigures[]> } | undefined;
  const readFigures = () => {
    if (!sources.queues) return Promise.resolve([]);
    if (!figures || Date.now() - figures.at > 5000)
      figures = { at: Date.now(), value: sources.queues().catch(() => []) };
    return figures.value;
  };
  const queueGauge = (name: string, help: string, pick: (f: QueueFigures) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'],
      registers,
      aggregator: 'max',
      async collect() {
        for (const f of await readFigures()) this.set({ queue: f.name }, pick(f));
      },
    });
  queueGauge('job_queue_depth', 'Jobs waiting in the queue (created or retry)', (f) => f.queued);
  queueGauge('job_queue_active', 'Jobs being worked now', (f) => f.active);
  queueGauge('job_queue_oldest_seconds', 'Age of the oldest waiting job, seconds', (f) => f.oldestSeconds);
  queueGauge(
    'job_queue_failed',
    'Jobs failed for good (attempts exhausted), still retained',
    (f) => f.failed,
  );
  queueGauge(
    'job_queue_dead_letters',
    'Jobs in the dead-letter queue (alert above 0: docs/operations.md)',
    (f) => f.deadLetters,
  );
  return {
    registry,
    crisisEscalated(count) {
      crisisEscalations.inc(count);
    },
    crisisAcknowledged(seconds) {
      crisisAckSeconds.observe(seconds);
    },
    queueJob(queue, outcome, seconds) {
      queueAttempts.inc({ queue, outcome });
      queueAttemptSeconds.observe({ queue }, seconds);
    },
    replicaFallback(reason) {
      fallbacks.inc({ reason });
    },
    procedure(r) {
      const labels = { procedure: r.path, code: r.code };
      requests.inc(labels);
      duration.observe(labels, r.durationMs / 1000);
      queries.inc({ procedure: r.path }, r.queries);
      if (r.code === 'TOO_MANY_REQUESTS') rejections.inc({ procedure: r.path });
    },
    job(name, outcome, seconds) {
      jobRuns.inc({ job: name, outcome });
      if (seconds !== undefined) jobDuration.observe({ job: name }, seconds);
    },
    viewRefresh(views) {
      for (const v of views) {
        viewSeconds.set({ view: v.name }, v.ms / 1000);
        viewRows.set({ view: v.name }, v.rows);
        viewRepaired.set({ view: v.name }, v.repaired);
      }
    },
    revocation(event) {
      revocations.inc({ kind: event.kind });
    },
  };
}
