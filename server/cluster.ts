// WORKERS > 1: the primary process forks that many workers sharing the listening port
// (Node cluster), so one host uses all its cores. Workers hold no shared state (rate
// limits, revocation and job locks live in Redis and Postgres). The primary restarts a
// worker that dies, forwards SIGTERM/SIGINT and exits once every worker has drained,
// and answers the workers' /metrics with the sum over all of them (prom-client's
// AggregatorRegistry), so a scrape of any worker sees the whole host.
import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Config } from './config.ts';

const METRICS_REQUEST = 'manas360:metrics-request';
const METRICS_RESPONSE = 'manas360:metrics-response';
const RESTART_DELAY_MS = 1000;

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
}

export function runPrimary(config: Config, log: Logger): void {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let failed = false;

  const fork = () => cluster.fork();
  for (let i = 0; i < config.WORKERS; i++) fork();
  log.info({ workers: config.WORKERS }, 'cluster primary started');

  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      log.error({ pid: worker.process.pid, code, signal }, 'worker died: restarting it');
      setTimeout(fork, RESTART_DELAY_MS).unref();
      return;
    }
    // Only the drain decides the exit code: a crash before it was logged and repaired.
    if (code !== 0) {
      failed = true;
      log.error({ pid: worker.process.pid, code, signal }, 'worker did not drain cleanly');
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) {
      log.info('every worker has stopped');
      process.exit(failed ? 1 : 0);
    }
  });

  cluster.on('message', (worker, msg: MetricsMessage) => {
    if (msg?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: METRICS_RESPONSE, id: msg.id, text }),
      (err: Error) => worker.send({ type: METRICS_RESPONSE, id: msg.id, error: err.message }),
    );
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'cluster shutting down');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    // Each worker has its own SHUTDOWN_TIMEOUT_MS; give them a little more, then stop.
    setTimeout(() => {
      log.error('workers overran the shutdown deadline');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** In a worker: /metrics asks the primary for the whole host's metrics. */
export function clusterMetricsSource(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs the worker's answer to the primary's requests
  let next = 0;
  const pending = new Map<number, (msg: MetricsMessage) => void>();
  process.on('message', (msg: MetricsMessage) => {
    if (msg?.type === METRICS_RESPONSE) pending.get(msg.id)?.(msg);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the cluster primary did not answer with metrics'));
      }, 5000);
      pending.set(id, (msg) => {
        clearTimeout(timer);
        pending.delete(id);
        if (msg.text !== undefined) resolve(msg.text);
        else reject(new Error(msg.error ?? 'no metrics'));
      });
      process.send?.({ type: METRICS_REQUEST, id });
    });
}
