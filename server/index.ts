// Entry point: `npm start`. Loads config, builds the services and serves HTTP.
import { buildServer } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { closeDeps, createDeps } from './deps.ts';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
const config = configOrExit();
const deps = await createDeps(config);
const app = await buildServer(deps);
await app.listen({ port: config.PORT, host: config.HOST });

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  deps.log.info({ signal }, 'shutting down');
  await app.close();
  await closeDeps(deps);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
