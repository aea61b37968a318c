// Redis connections: one server (REDIS_URL) or the primary found through Sentinel
// (REDIS_SENTINELS), for limits, pub/sub and readiness. connectRedis starts one; closeRedis
// ends one (and every duplicate made with duplicateRedis) for good.

import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config.ts';

/** Where Redis is: one server (REDIS_URL) or a primary found through Sentinel. */
export type RedisSettings = Pick<
  Config,
  'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_PASSWORD' | 'REDIS_SENTINEL_PASSWORD'
>;

/** Longest start-up wait for Redis; then the start fails naming the variable (never hangs). */
export const REDIS_START_DEADLINE_MS = 10_000;

/** Whether the settings name a Redis at all. */
export function hasRedis(settings: RedisSettings): boolean {
  return Boolean(settings.REDIS_URL) || settings.REDIS_SENTINELS.length > 0;
}

/**
 * Connects to Redis, or fails with one line naming REDIS_URL or REDIS_SENTINELS within
 * REDIS_START_DEADLINE_MS. A plain URL string is REDIS_URL (tests). Once connected, the
 * connection comes back by itself whatever happens to it, until closeRedis.
 */
export async function connectRedis(target: string | RedisSettings, log?: Logger): Promise<Redis> {
  const settings: RedisSettings =
    typeof target === 'string'
      ? { REDIS_URL: target, REDIS_SENTINELS: [], REDIS_SENTINEL_NAME: 'mymaster' }
      : target;
  // No offline queue and a short command timeout: when Redis is down, callers fail fast
  // and fall back (general limits) or fail closed (login), never stall.
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: 1000,
    maxRetriesPerRequest: 1,
    // A command in flight when the connection drops fails instead of being sent again
    // after the reconnect: a rate-limit point is never counted twice.
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2000,
    // Reconnect soon (at most 1 s apart): after a failover the new primary is found quickly.
    retryStrategy: (times) => Math.min(times * 100, 1000),
    // A primary demoted to replica answers writes with READONLY: reconnect (Sentinel then
    // names the new primary), without sending the command again.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    ...(settings.REDIS_PASSWORD ? { password: settings.REDIS_PASSWORD } : {}),
  };
  const sentinels = settings.REDIS_SENTINELS.map((s) => {
    const i = s.lastIndexOf(':');
    return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
  });
  const redis =
    sentinels.length > 0
      ? new Redis({
          ...common,
          sentinels,
          name: settings.REDIS_SENTINEL_NAME,
          role: 'master',
          ...(settings.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: settings.REDIS_SENTINEL_PASSWORD } : {}),
          sentinelRetryStrategy: (times) => Math.min(times * 200, 1000),
          // A sentinel that stops answering must not hold up the search for the primary.
          sentinelCommandTimeout: 1000,
          // Subscribes to the sentinels' +switch-master: reconnects at the failover, not at
          // the next failed command (a primary that hangs never closes its connections).
          failoverDetector: true,
        })
      : new Redis(settings.REDIS_URL!, common);
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err; // reconnects by itself; state is reported by /readyz
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${REDIS_START_DEADLINE_MS} ms`)),
          REDIS_START_DEADLINE_MS,
        );
      }),
    ]);
  } catch (err) {
    // ioredis says only "Connection is closed."; the cause is the last socket error.
    redis.disconnect();
    const reason = (lastError ?? (err as Error)).message.split('\n')[0];
    if (sentinels.length > 0)
      throw new Error(
        `REDIS_SENTINELS: cannot reach the Redis primary "${settings.REDIS_SENTINEL_NAME}" through ${settings.REDIS_SENTINELS.join(',')}: ${reason}`,
      );
    const { hostname, port } = new URL(settings.REDIS_URL!);
    throw new Error(`REDIS_URL: cannot connect to Redis at ${hostname}:${port || 6379}: ${reason}`);
  } finally {
    clearTimeout(timer);
  }
  return keepConnected(redis, log);
}

/** Connections closeRedis ended: their 'end' is asked for. */
const closing = new WeakSet<Redis>();

/**
 * A second connection with the same settings (a subscriber: a subscribed connection can run
 * nothing else), kept connected like the first until closeRedis.
 */
export function duplicateRedis(redis: Redis, log?: Logger, override: Partial<RedisOptions> = {}): Redis {
  const copy = redis.duplicate({ lazyConnect: true, ...override });
  copy.on('error', () => {}); // reconnects by itself
  return keepConnected(copy, log);
}

/** Ends a connection for good: it is not brought back. */
export async function closeRedis(redis: Redis): Promise<void> {
  closing.add(redis);
  await redis.quit().catch(() => redis.disconnect());
}

/**
 * Brings the connection back after an 'end' nobody asked for. ioredis (5.9) reconnects by
 * itself after any drop, except one: with Sentinel and its failover detector, a
 * +switch-master that arrives while a reconnect is asking a sentinel for the primary makes
 * that connect fail with "Connection is closed." and ends the client for good ('end'; no
 * more retries). Seen in `npm run topology` (c): after the Redis primary's SIGKILL, some API
 * hosts stayed unready, every login 503, until restarted; test/redis-sentinel.test.ts
 * reproduces it.
 */
function keepConnected(redis: Redis, log: Logger | undefined): Redis {
  let attempt = 0;
  redis.on('ready', () => {
    attempt = 0;
  });
  redis.on('end', () => {
    if (closing.has(redis)) return;
    const delay = Math.min(++attempt * 100, 1000);
    log?.warn({ attempt, delayMs: delay }, 'the Redis connection ended by itself; connecting again');
    setTimeout(() => {
      if (!closing.has(redis) && redis.status === 'end') redis.connect().catch(() => {}); // 'end' again: retried
    }, delay).unref();
  });
  return redis;
}
