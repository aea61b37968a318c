// Bounds password hashing in this process (issue 9 #4). A hash (scrypt, N=2^17) holds a
// core and 128 MiB for ~0.3 s, and Node runs at most UV_THREADPOOL_SIZE of them at once:
// 30 concurrent logins from one client used to queue every other client's login behind
// them (0.5 s → 6–8 s). Here:
//   - at most PASSWORD_HASH_CONCURRENCY hashes run at once (default: the CPU count);
//   - one client IP runs at most PASSWORD_HASH_PER_IP of them and has at most as many
//     more waiting, so a single client can never hold every slot (unless the limits say
//     so) and another client's login starts at once;
//   - at most PASSWORD_HASH_QUEUE wait overall, in a fair queue: a free slot goes to the
//     waiter whose IP asked for the fewest hashes lately (every request counts, refused or
//     not; the count halves every 30 s; arrival order among equals), and when the queue is
//     full a newcomer that asked less takes the place of the waiter whose IP asked the most
//     (that one is refused). So a
//     flood from many addresses (issue 32 #7: 30 IPs, each within its own bound) keeps
//     the cores busy but cannot starve anyone else: another user's login waits for the
//     next free slot, not behind the flood;
//   - a quarter of the slots (at least one, when there are two or more) is kept for light
//     IPs — those that asked for at most LIGHT_USAGE hashes lately (a person logging in,
//     after a typo) — so under such a flood another user's login does not wait for a
//     flood hash to end, it starts at once (the flood runs on the other slots).
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

/** The half-life of an IP's count of hash requests (what the fair queue orders by). */
export const USAGE_HALF_LIFE_MS = 30_000;
/**
 * An IP that asked for at most this many hashes lately (this one included) is light: a
 * person logging in, after a typo. (An address of a 30-address flood on 2 cores asks for
 * about 3 in a half-life even when only one slot is left to the flood.)
 */
export const LIGHT_USAGE = 2;

interface Waiter {
  ip: string;
  seq: number;
  start: () => void;
  refuse: () => void;
}

export function createHashGate(limits: HashGateLimits, now: () => number = Date.now): HashGate {
  let running = 0;
  let seq = 0;
  const runningByIp = new Map<string, number>();
  const waitingByIp = new Map<string, number>();
  const usageByIp = new Map<string, { n: number; at: number }>();
  const queue: Waiter[] = [];
  const count = (map: Map<string, number>, ip: string) => map.get(ip) ?? 0;
  const add = (map: Map<string, number>, ip: string, delta: number) => {
    const n = count(map, ip) + delta;
    if (n === 0) map.delete(ip);
    else map.set(ip, n);
  };
  /** Hashes the IP asked for lately, halving every USAGE_HALF_LIFE_MS. */
  const usage = (ip: string) => {
    const u = usageByIp.get(ip);
    return u ? u.n * 0.5 ** ((now() - u.at) / USAGE_HALF_LIFE_MS) : 0;
  };
  /** Slots only light IPs may take: a quarter, at least one when there are two or more. */
  const reserved = limits.concurrency > 1 ? Math.max(1, Math.floor(limits.concurrency / 4)) : 0;
  const mayRun = (ip: string) =>
    running < limits.concurrency - (usage(ip) <= LIGHT_USAGE ? 0 : reserved) &&
    count(runningByIp, ip) < limits.perIp;
  // Taken synchronously, by the caller or by release(), so nobody overtakes a started waiter.
  const take = (ip: string) => {
    running += 1;
    add(runningByIp, ip, 1);
  };
  const asked = (ip: string) => {
    const n = usage(ip) + 1;
    if (n < 0.01) usageByIp.delete(ip);
    else usageByIp.set(ip, { n, at: now() });
    // Bounded: IPs whose count has decayed to nothing are forgotten.
    if (usageByIp.size > 10_000) for (const [key] of usageByIp) if (usage(key) < 0.01) usageByIp.delete(key);
  };
  /** Takes a waiter out of the queue (it no longer counts as waiting). */
  const remove = (at: number) => {
    const [w] = queue.splice(at, 1);
    add(waitingByIp, w!.ip, -1);
    return w!;
  };
  /** The waiter the fair queue serves next among those that may run: least used IP, then arrival. */
  const next = (): number => {
    let best = -1;
    let bestUsage = 0;
    for (let i = 0; i < queue.length; i += 1) {
      const w = queue[i]!;
      if (!mayRun(w.ip)) continue;
      const u = usage(w.ip);
      if (best === -1 || u < bestUsage || (u === bestUsage && w.seq < queue[best]!.seq)) {
        best = i;
        bestUsage = u;
      }
    }
    return best;
  };
  const release = (ip: string) => {
    running -= 1;
    add(runningByIp, ip, -1);
    while (running < limits.concurrency) {
      const at = next();
      if (at === -1) break;
      const w = remove(at);
      take(w.ip);
      w.start();
    }
  };
  /** When the queue is full: the waiter whose IP used the most (the latest among equals). */
  const heaviest = (): number => {
    let worst = -1;
    let worstUsage = 0;
    for (let i = 0; i < queue.length; i += 1) {
      const u = usage(queue[i]!.ip);
      if (worst === -1 || u > worstUsage || (u === worstUsage && queue[i]!.seq > queue[worst]!.seq)) {
        worst = i;
        worstUsage = u;
      }
    }
    return worst;
  };
  const refusal = async (): Promise<never> => {
    await new Promise((r) => setTimeout(r, REFUSAL_DELAY_MS));
    throw tooManyRequests(RETRY_AFTER_SECONDS);
  };
  return {
    async run(ip, work) {
      asked(ip);
      if (mayRun(ip)) take(ip);
      else {
        if (count(waitingByIp, ip) >= limits.perIp) return refusal();
        if (queue.length >= limits.queue) {
          // Full: a newcomer that used less than the heaviest waiter takes its place.
          const worst = heaviest();
          if (worst === -1 || usage(queue[worst]!.ip) <= usage(ip)) return refusal();
          remove(worst).refuse();
        }
        add(waitingByIp, ip, 1);
        const started = await new Promise<boolean>((resolve) => {
          seq += 1;
          queue.push({ ip, seq, start: () => resolve(true), refuse: () => resolve(false) });
        });
        if (!started) return refusal();
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
