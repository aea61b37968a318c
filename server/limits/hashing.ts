// Bounds password hashing in this process (issue 9 #4). A hash (scrypt, N=2^17) holds a
// core and 128 MiB for ~0.3 s, and Node runs at most UV_THREADPOOL_SIZE of them at once:
// 30 concurrent logins from one client used to queue every other client's login behind
// them (0.5 s → 6–8 s). Here:
//   - at most PASSWORD_HASH_CONCURRENCY hashes run at once (default: the CPU count);
//   - one client IP runs at most PASSWORD_HASH_PER_IP of them and has at most as many
//     more waiting, so a single client can never hold every slot (unless the limits say
//     so) and another client's login starts at once;
//   - at most PASSWORD_HASH_QUEUE wait overall, first come first served among the IPs
//     that may run.
// Beyond that: TOO_MANY_REQUESTS with Retry-After, before any hashing, answered after a
// pause of that length (a timer, no work): a client that retries at once would otherwise
// turn each refusal into another request, and a flood of cheap refusals still delays
// every other client's requests on the event loop. The bound is per
// process on purpose: it protects this process's cores (each cluster worker has its own).
// bench/login-flood.ts measures another client's login under a flood.
import { tooManyRequests } from '../domain/errors.ts';

export interface HashGateLimits {
  /** Hashes running at once in this process. */
  concurrency: number;
  /** Hashes one client IP may have running at once, and may have waiting besides. */
  perIp: number;
  /** Hashes waiting at once in this process. */
  queue: number;
}

export interface HashGate {
  /** Runs `work` (which hashes a password) in a slot; throws TOO_MANY_REQUESTS when there is none. */
  run<T>(ip: string, work: () => Promise<T>): Promise<T>;
  /** Running and waiting now (for tests and metrics). */
  readonly load: { running: number; waiting: number };
}

/** A hash takes well under a second; a client told to wait 1 s finds a slot. */
const RETRY_AFTER_SECONDS = 1;
/** How long a refusal is held before it is sent (see above). */
export const REFUSAL_DELAY_MS = RETRY_AFTER_SECONDS * 1000;

export function createHashGate(limits: HashGateLimits): HashGate {
  let running = 0;
  const runningByIp = new Map<string, number>();
  const waitingByIp = new Map<string, number>();
  const queue: Array<{ ip: string; start: () => void }> = [];
  const count = (map: Map<string, number>, ip: string) => map.get(ip) ?? 0;
  const add = (map: Map<string, number>, ip: string, delta: number) => {
    const n = count(map, ip) + delta;
    if (n === 0) map.delete(ip);
    else map.set(ip, n);
  };
  const mayRun = (ip: string) => running < limits.concurrency && count(runningByIp, ip) < limits.perIp;
  // Taken synchronously, by the caller or by release(), so nobody overtakes a started waiter.
  const take = (ip: string) => {
    running += 1;
    add(runningByIp, ip, 1);
  };
  const release = (ip: string) => {
    running -= 1;
    add(runningByIp, ip, -1);
    for (let i = 0; i < queue.length && running < limits.concurrency; ) {
      const next = queue[i]!;
      if (count(runningByIp, next.ip) >= limits.perIp) {
        i += 1;
        continue;
      }
      queue.splice(i, 1);
      add(waitingByIp, next.ip, -1);
      take(next.ip);
      next.start();
    }
  };
  return {
    async run(ip, work) {
      if (mayRun(ip)) take(ip);
      else {
        if (queue.length >= limits.queue || count(waitingByIp, ip) >= limits.perIp) {
          await new Promise((r) => setTimeout(r, REFUSAL_DELAY_MS));
          throw tooManyRequests(RETRY_AFTER_SECONDS);
        }
        add(waitingByIp, ip, 1);
        await new Promise<void>((start) => queue.push({ ip, start }));
      }
      try {
        return await work();
      } finally {
        release(ip);
      }
    },
    get load() {
      return { running, waiting: queue.length };
    },
  };
}
