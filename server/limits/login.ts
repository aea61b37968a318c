// Login brute-force protection (SECURITY-TESTS 31-32): consecutive failures per
// email+IP (a victim cannot be locked out from another IP) and failures per IP per day.
// Shared through Redis across instances; process memory when there is no Redis. When
// Redis is configured but unreachable, login fails closed (503): an attacker must not
// get unlimited guesses because the limiter's store is down.

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
  /** Throws TOO_MANY_REQUESTS while email+IP or the IP is blocked. */
  check(email: string, ip: string): Promise<void>;
  recordFailure(email: string, ip: string): Promise<void>;
  /** A successful login resets the consecutive-failure count of email+IP. */
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

/** The answer when the shared limiter store cannot be reached. */
export function limiterUnavailable(cause?: unknown): TRPCError {
  return toTRPCError(unavailable('Sign-in and sign-up are temporarily unavailable; retry shortly', cause));
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
    async check(email, ip) {
      const [a, b] = await storeCall(() => Promise.all([byEmailIp.get(emailIpKey(email, ip)), byIp.get(ip)]));
      for (const [res, max] of [
        [a, limits.failuresPerEmailIp],
        [b, limits.failuresPerIpPerDay],
      ] as const) {
        if (res && res.consumedPoints >= max) throw tooManyRequests(res.msBeforeNext / 1000);
      }
    },
    async recordFailure(email, ip) {
      await storeCall(() =>
        Promise.all([
          byEmailIp.consume(emailIpKey(email, ip)).catch(swallowLimit),
          byIp.consume(ip).catch(swallowLimit),
        ]),
      );
    },
    async recordSuccess(email, ip) {
      await storeCall(() => byEmailIp.delete(emailIpKey(email, ip)));
    },
  };
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

function swallowLimit(err: unknown) {
  if (!(err instanceof RateLimiterRes)) throw err;
}
