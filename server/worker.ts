// `npm run worker` (dist/worker.js in production): a process that only works the job queue
// (emails), for operators who run the workers apart from the API (QUEUE_WORKERS=false on
// the API; deploy/kubernetes/worker-deployment.yaml). Same configuration as the API. Ends
// on SIGTERM/SIGINT once the jobs in progress are done.
import { ConfigError, loadConfig, loadDotEnv } from './config.ts';
import { closeDeps, createDeps } from './create-services.ts';
import { startQueueWorkers } from './jobs/workers.ts';
import { rootCauseMessage } from './logging.ts';

let config: ReturnType<typeof loadConfig>;
try {
  loadDotEnv();
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}
const deps = await createDeps(config).catch((err: unknown) => {
  console.error(`start-up failed: ${rootCauseMessage(err)}`);
  process.exit(1);
});
deps.closers.unshift(await startQueueWorkers(deps));
deps.log.info('job queue worker started');
let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  deps.log.info({ signal }, 'job queue worker stopping');
  const timer = setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS + 5000);
  timer.unref();
  void closeDeps(deps).then(
    () => process.exit(0),
    (err: unknown) => {
      deps.log.error({ err }, 'job queue worker stopped with an error');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
