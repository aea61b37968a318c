// Timeouts that grow with the machine's load. On a busy 2-core machine (other suites, a CPU
// hog) everything takes longer; a test must fail on a hang, not on a slow neighbour. The
// scale is the 1-minute load average per core at the moment it is asked (at least 1, at most
// 10); TEST_TIMEOUT_SCALE fixes it. vitest.config.ts scales the default timeouts with it.
import { availableParallelism, loadavg } from 'node:os';

export function loadScale(): number {
  const fixed = Number(process.env.TEST_TIMEOUT_SCALE);
  if (fixed > 0) return fixed;
  return Math.min(10, Math.max(1, loadavg()[0]! / availableParallelism()));
}

/** `ms` (what the wait takes on a quiet machine, with margin) scaled by the load now. */
export function scaled(ms: number): number {
  return Math.round(ms * loadScale());
}
