// Rate limits per procedure call (the call pipeline, server/trpc/invoke.ts, calls
// beforeProcedure for every call of a batch, so a batch cannot bypass them). Policies come
// from .meta({ rateLimit }):
//   general  (default) per user when authenticated, else per IP: RATE_LIMIT_GENERAL_PER_MINUTE;
//            Redis down → an in-memory limiter per process takes over at once (no stall);
//   login    general, plus the brute-force limiter the login procedure drives
//            (deps.loginLimiter); Redis down → 503, fail closed;
//   register general, plus RATE_LIMIT_REGISTER_PER_HOUR per IP; Redis down → 503;
//   checkout general, plus RATE_LIMIT_CHECKOUT_PER_HOUR per user (each one calls the payment
//            provider); Redis down → 503;
//   none     not counted.
import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Config } from '../config.ts';
import { tooManyRequests } from '../domain/errors.ts';
import { toTRPCError } from '../trpc/errors.ts';
import type { ProcedureHooks } from '../trpc/hooks.ts';
import { type LoginLimiter, limiterUnavailable, memoryLoginLimiter, redisLoginLimiter } from './login.ts';

/** A fixed allowance per key and window, on whatever a procedure counts (not a per-call limit). */
export interface Quota {
  /** Takes one point, or throws TOO_MANY_REQUESTS (the wait) or, store down, SERVICE_UNAVAILABLE. */
  consume(key: string): Promise<void>;
}

/**
 * Product limits that hold even with RATE_LIMIT_ENABLED=false, and fail closed when Redis
 * is down (a second process could not see the count):
 *   export          one data export per user per hour;
 *   reports         REPORTS_PER_HOUR (1) reports per user and report kind per hour;
 *   apiKeyExchange  API-key exchanges per IP per minute;
 *   resetPerEmail   password-reset requests per address per hour (3), whether or not it
 *                   has an account (the answer must not tell);
 *   resetPerIp      password-reset requests per IP per hour (20);
 *   verifyEmail     confirmation emails a user may ask for per hour (3).
 */
export interface Quotas {
  export: Quota;
  reports: Quota;
  apiKeyExchange: Quota;
  resetPerEmail: Quota;
  resetPerIp: Quota;
  verifyEmail: Quota;
}

export interface RateLimits {
  loginLimiter: LoginLimiter;
  quotas: Quotas;
  /** Undefined when RATE_LIMIT_ENABLED=false: no per-call cost at all. */
  beforeProcedure: ProcedureHooks['beforeProcedure'];
}

type LimitConfig = Pick<
  Config,
  | 'RATE_LIMIT_ENABLED'
  | 'RATE_LIMIT_GENERAL_PER_MINUTE'
  | 'RATE_LIMIT_REGISTER_PER_HOUR'
  | 'RATE_LIMIT_CHECKOUT_PER_HOUR'
  | 'RATE_LIMIT_LOGIN_FAILURES'
  | 'RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY'
  | 'REPORTS_PER_HOUR'
>;

export function createRateLimits(config: LimitConfig, redis: Redis | undefined, prefix = 'rl'): RateLimits {
  const loginLimits = {
    failuresPerEmailIp: config.RATE_LIMIT_LOGIN_FAILURES,
    failuresPerIpPerDay: config.RATE_LIMIT_LOGIN_FAILURES_PER_IP_PER_DAY,
  };
  // The login lockout stays on even with RATE_LIMIT_ENABLED=false: it only counts failed
  // logins, which a benchmark does not make, and it is a security control.
  const loginLimiter = redis
    ? redisLoginLimiter(loginLimits, redis, prefix)
    : memoryLoginLimiter(loginLimits);
  const quotas: Quotas = {
    export: quota(redis, { keyPrefix: `${prefix}:export`, points: 1, duration: 3600 }),
    reports: quota(redis, {
      keyPrefix: `${prefix}:reports`,
      points: config.REPORTS_PER_HOUR,
      duration: 3600,
    }),
    apiKeyExchange: quota(redis, { keyPrefix: `${prefix}:apikey`, points: 30, duration: 60 }),
    resetPerEmail: quota(redis, { keyPrefix: `${prefix}:reset-email`, points: 3, duration: 3600 }),
    resetPerIp: quota(redis, { keyPrefix: `${prefix}:reset-ip`, points: 20, duration: 3600 }),
    verifyEmail: quota(redis, { keyPrefix: `${prefix}:verify-email`, points: 3, duration: 3600 }),
  };
  if (!config.RATE_LIMIT_ENABLED) return { loginLimiter, quotas, beforeProcedure: undefined };

  const generalOpts = {
    keyPrefix: `${prefix}:general`,
    points: config.RATE_LIMIT_GENERAL_PER_MINUTE,
    duration: 60,
  };
  const registerOpts = {
    keyPrefix: `${prefix}:register`,
    points: config.RATE_LIMIT_REGISTER_PER_HOUR,
    duration: 3600,
  };
  const checkoutOpts = {
    keyPrefix: `${prefix}:checkout`,
    points: config.RATE_LIMIT_CHECKOUT_PER_HOUR,
    duration: 3600,
  };
  const general: RateLimiterAbstract = redis
    ? new RateLimiterRedis({
        ...generalOpts,
        storeClient: redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory(generalOpts),
      })
    : new RateLimiterMemory(generalOpts);
  const register: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...registerOpts, storeClient: redis, rejectIfRedisNotReady: true })
    : new RateLimiterMemory(registerOpts);
  const checkout: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...checkoutOpts, storeClient: redis, rejectIfRedisNotReady: true })
    : new RateLimiterMemory(checkoutOpts);

  return {
    loginLimiter,
    quotas,
    async beforeProcedure({ ctx, meta }) {
      const policy = meta?.rateLimit ?? 'general';
      if (policy === 'none') return;
      // Fail closed before any work when the shared store is known to be down.
      if (policy !== 'general' && redis && redis.status !== 'ready') throw limiterUnavailable();
      await consume(general, ctx.auth ? `u:${ctx.auth.sub}` : `ip:${ctx.req.ip}`);
      if (policy === 'register') await consume(register, ctx.req.ip);
      if (policy === 'checkout' && ctx.auth) await consume(checkout, ctx.auth.sub);
    },
  };
}

function quota(
  redis: Redis | undefined,
  opts: { keyPrefix: string; points: number; duration: number },
): Quota {
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...opts, storeClient: redis, rejectIfRedisNotReady: true })
    : new RateLimiterMemory(opts);
  return { consume: (key) => consume(limiter, key) };
}

/** One point, or TOO_MANY_REQUESTS with the wait; a store error (no insurance) → 503. */
async function consume(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw toTRPCError(tooManyRequests(err.msBeforeNext / 1000));
    throw limiterUnavailable(err);
  }
}
