// Login brute-force protection (SECURITY-TESTS 31-32): consecutive failures per
// email+IP (a victim cannot be locked out from another IP) and failures per IP per day.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { tooManyRequests } from '../trpc/errors.ts';

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

/** Process-memory login limiter (single instance; the Redis one is shared). */
export function memoryLoginLimiter(limits: LoginLimits): LoginLimiter {
  const byEmailIp = new RateLimiterMemory({
    points: limits.failuresPerEmailIp,
    duration: BLOCK_SECONDS,
    blockDuration: BLOCK_SECONDS,
  });
  const byIp = new RateLimiterMemory({
    points: limits.failuresPerIpPerDay,
    duration: 86_400,
    blockDuration: 86_400,
  });
  return {
    async check(email, ip) {
      const [a, b] = await Promise.all([byEmailIp.get(emailIpKey(email, ip)), byIp.get(ip)]);
      for (const [res, max] of [
        [a, limits.failuresPerEmailIp],
        [b, limits.failuresPerIpPerDay],
      ] as const) {
        if (res && res.consumedPoints >= max) throw tooManyRequests(res.msBeforeNext / 1000);
      }
    },
    async recordFailure(email, ip) {
      await Promise.all([
        byEmailIp.consume(emailIpKey(email, ip)).catch(swallowLimit),
        byIp.consume(ip).catch(swallowLimit),
      ]);
    },
    async recordSuccess(email, ip) {
      await byEmailIp.delete(emailIpKey(email, ip));
    },
  };
}

function swallowLimit(err: unknown) {
  if (!(err instanceof RateLimiterRes)) throw err;
}
