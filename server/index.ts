// Entry point: `npm start` (dist/server.js in production). Loads ./.env when present, then
// the config; with WORKERS > 1 becomes the cluster primary (server/cluster.ts) and forks the
// workers; otherwise, and in each worker, builds the services, starts the scheduled jobs
// and the job queue's workers (QUEUE_WORKERS) and serves HTTP until SIGTERM/SIGINT.
import cluster from 'node:cluster';
import { buildServer } from './app.ts';
import { clusterMetricsSource, runPrimary } from './cluster.ts';
import { type Config, ConfigError, loadConfig, loadDotEnv } from './config.ts';
import { createDeps, createLogger } from './create-services.ts';
import { gracefulShutdown } from './http/shutdown.ts';
import { JobRunner } from './jobs/index.ts';
import { startQueueWorkers } from './jobs/workers.ts';
import { rootCauseMessage } from './logging.ts';
import { installProcessFaultPolicy } from './process-faults.ts';
import { nodeVersionWarning, startupInfo, startupLines } from './startup.ts';

const nodeWarning = nodeVersionWarning();
if (nodeWarning) console.warn(nodeWarning);

function configOrExit(): Config {
  try {
    loadDotEnv();
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

const config = configOrExit();
if (config.WORKERS > 1 && cluster.isPrimary) {
  runPrimary(config, createLogger(config));
} else {
  const deps = await createDeps(config).catch((err: unknown) => {
    // One clear line (e.g. "materialized view … is missing: run npm run db:migrate").
    console.error(`start-up failed: ${rootCauseMessage(err)}`);
    process.exit(1);
  });
  const app = await buildServer(deps, {
    metricsText: cluster.isWorker ? clusterMetricsSource(deps.metrics.registry) : undefined,
  });
  if (config.JOBS_ENABLED) {
    const jobs = new JobRunner(deps);
    jobs.start();
    // First at shutdown: the schedule stops and a running job finishes before the pool closes.
    deps.closers.unshift(() => jobs.stop());
  }
  if (config.QUEUE_WORKERS) {
    // This process also works the job queue (emails); `npm run worker` does it apart.
    deps.closers.unshift(await startQueueWorkers(deps));
  }
  const shutdown = gracefulShutdown(app, deps);
  // A dependency's error nothing handled never ends the process; a bug's exception drains
  // it and exits 1 for the supervisor (server/process-faults.ts, docs/operations.md).
  installProcessFaultPolicy({
    log: deps.log,
    registry: deps.metrics.registry,
    shutdown: (reason) => void shutdown(reason, 1),
    onBrokenDatabaseClient: () => deps.database.replaceClients?.(),
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  // Where to go next: one JSON line in production, readable lines otherwise (once per host).
  if (!cluster.isWorker || cluster.worker?.id === 1) {
    const info = startupInfo(config, address);
    if (config.NODE_ENV === 'production') deps.log.info(info, 'ready');
    else console.log(startupLines(info).join('\n'));
  }
}
