// Graceful shutdown on SIGTERM/SIGINT, in the order a load balancer needs:
//   1. readiness turns 503 at once (app.draining), the server still serves;
//   2. after SHUTDOWN_DELAY_MS (the time the balancer takes to notice), end the live
//      subscriptions (their clients reconnect elsewhere), stop accepting connections and let
//      in-flight requests finish;
//   3. at the deadline, connections still open are closed;
//   4. closeDeps: jobs stop (a running refresh finishes), then revocation sync, Redis and
//      the pool close;
//   5. exit 0 (or the code given: 1 after an uncaught exception, server/process-faults.ts).
//      A hard timer exits 1 if all this overruns SHUTDOWN_TIMEOUT_MS.
import type { FastifyInstance } from 'fastify';
import { closeDeps } from '../create-services.ts';
import type { AppDeps } from '../services.ts';

/** Time kept back from the drain for closing jobs, Redis and the pool. */
const CLOSE_RESERVE_MS = 1000;

export function gracefulShutdown(
  app: FastifyInstance,
  deps: AppDeps,
  exit: (code: number) => void = (code) => process.exit(code),
): (signal: string, code?: number) => Promise<void> {
  let started = false;
  return async (signal, code = 0) => {
    if (started) return;
    started = true;
    const { SHUTDOWN_TIMEOUT_MS, SHUTDOWN_DELAY_MS } = deps.config;
    const { log } = deps;
    const begun = Date.now();
    const hardStop = setTimeout(() => {
      log.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown overran its deadline: exiting');
      exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    hardStop.unref();

    app.draining = true;
    log.info({ signal, delayMs: SHUTDOWN_DELAY_MS }, 'shutting down: readiness is 503');
    if (SHUTDOWN_DELAY_MS > 0) await sleep(SHUTDOWN_DELAY_MS);

    // Live subscriptions never finish by themselves: end them now, so their clients
    // reconnect (to an instance still serving, resuming from their last event id) and the
    // drain does not wait for them.
    deps.crisisFeed.endSubscriptions();
    const closing = app.close();
    // close() ends the connections idle at that moment; end the others as they go idle.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    const drainBudget = Math.max(0, SHUTDOWN_TIMEOUT_MS - (Date.now() - begun) - CLOSE_RESERVE_MS);
    const drained = await Promise.race([closing.then(() => true), sleep(drainBudget).then(() => false)]);
    if (!drained) {
      log.warn('requests still in flight at the deadline: closing their connections');
      app.server.closeAllConnections();
      await closing;
    }
    clearInterval(sweep);
    await closeDeps(deps);
    clearTimeout(hardStop);
    log.info({ ms: Date.now() - begun }, 'shutdown complete');
    exit(code);
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
