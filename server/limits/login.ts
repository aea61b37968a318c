// Login brute-force protection (SECURITY-TESTS 31-32): consecutive failures per
// email+IP (a victim cannot be locked out from another IP) and failures per IP per day.
// Shared through Redis across instances; process memory when there is no Redis. When
// Redis is configured but unreachable, login fails closed (503): an attacker must not
// get unlimited guesses because the limiter's store is down.
//
// An attempt is counted BEFORE its password is checked (reserve: one atomic consume on
// each limiter) and refunded when the password was right (recordSuccess), so the limits
// hold exactly under concurrency: of any number of parallel guesses, at most the limit
// reach the hash (issue 9 #3; counting after the hash let 30 parallel guesses through a
// limit of 10).

import { TRPCError } from '@trpc/server';
import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { tooManyRequests as tooMany, unavailable } from '../domain/errors.ts';
import { toTRPCError } from '../trpc/errors.ts';

const tooManyRequests = (seconds: number) => toTRPCError(tooMany(seconds));

export interface LoginLimiter {
  /**
   * Counts one attempt as a failure before the password is checked; throws
   * TOO_MANY_REQUESTS (nothing counted) when email+IP or the IP has no attempt left.
   */
  reserve(email: string, ip: string): Promise<void>;
  /**
   * The password was right: resets the consecutive-failure count of email+IP and gives
   * the IP its daily point back.
   */
  recordSuccess(email: string, ip: string): Promise<void>;
}

export interface LoginLimits {
  failuresPerEmailIp: number;
  failuresPerIpPerDay: number;
}

const BLOCK_SECONDS = 15 * 60;

export function emailIpKey(email: string, ip: string): string {
  return `${email.trim().toLowerCase()}|${ip}`;
}

/**
 * When to try a login again while the limiter's store is away: a Sentinel failover takes a
 * few seconds (the topology run: logins back within 5 s).
 */
export const LIMITER_RETRY_AFTER_S = 5;

/** The answer when the shared limiter store cannot be reached: 503 with Retry-After. */
export function limiterUnavailable(cause?: unknown): TRPCError {
  return toTRPCError(
    unavailable(
      'Sign-in and sign-up are temporarily unavailable; retry shortly',
      cause,
      LIMITER_RETRY_AFTER_S,
    ),
  );
}

/** Process-memory login limiter (single instance; the Redis one is shared). */
export function memoryLoginLimiter(limits: LoginLimits): LoginLimiter {
  return loginLimiter(limits, (opts) => new RateLimiterMemory(opts));
}

/** Redis-backed login limiter shared by every instance; fails closed when Redis is down. */
export function redisLoginLimiter(limits: LoginLimits, redis: Redis, prefix = 'rl'): LoginLimiter {
  return loginLimiter(
    limits,
    (opts) => new RateLimiterRedis({ ...opts, storeClient: redis, rejectIfRedisNotReady: true }),
    prefix,
  );
}

type Factory = (opts: {
  keyPrefix: string;
  points: number;
  duration: number;
  blockDuration: number;
}) => RateLimiterAbstract;

function loginLimiter(limits: LoginLimits, make: Factory, prefix = 'rl'): LoginLimiter {
  const byEmailIp = make({
    keyPrefix: `${prefix}:login:email-ip`,
    points: limits.failuresPerEmailIp,
    duration: BLOCK_SECONDS,
    blockDuration: BLOCK_SECONDS,
  });
  const byIp = make({
    keyPrefix: `${prefix}:login:ip`,
    points: limits.failuresPerIpPerDay,
    duration: 86_400,
    blockDuration: 86_400,
  });
  return {
    async reserve(email, ip) {
      const key = emailIpKey(email, ip);
      // consume is atomic (an INCR in Redis, the map in memory): the (limit + 1)th
      // concurrent attempt is refused however the attempts interleave.
      const [a, b] = await storeCall(() =>
        Promise.all([byEmailIp.consume(key).then(passed, verdict), byIp.consume(ip).then(passed, verdict)]),
      );
      if (a.ok && b.ok) return;
      // Refused by one limiter: give the other its point back (this attempt is not made).
      await storeCall(() =>
        Promise.all([a.ok ? byEmailIp.reward(key, 1) : undefined, b.ok ? byIp.reward(ip, 1) : undefined]),
      );
      const wait = Math.max(a.ok ? 0 : a.res.msBeforeNext, b.ok ? 0 : b.res.msBeforeNext);
      throw tooManyRequests(wait / 1000);
    },
    async recordSuccess(email, ip) {
      await storeCall(() => Promise.all([byEmailIp.delete(emailIpKey(email, ip)), byIp.reward(ip, 1)]));
    },
  };
}

type Verdict = { ok: true } | { ok: false; res: RateLimiterRes };

const passed = (): Verdict => ({ ok: true });

/** A consume's outcome: a limit verdict is a value here; a store error is thrown on. */
function verdict(err: unknown): Verdict {
  if (err instanceof RateLimiterRes) return { ok: false, res: err };
  throw err;
}

/** A store error (Redis down or slow) becomes 503; a limit verdict passes through. */
async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TRPCError || err instanceof RateLimiterRes) throw err;
    throw limiterUnavailable(err);
  }
}
