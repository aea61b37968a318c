import { availableParallelism, loadavg } from 'node:os';
import { defineConfig } from 'vitest/config';

// Timeouts grow with the machine's load: on a busy 2-core machine everything takes longer,
// and a test should fail on a hang, not on a slow neighbour. The scale is the load average
// per core when the run starts (at least 1, at most 10); TEST_TIMEOUT_SCALE overrides it.
const scale =
  Number(process.env.TEST_TIMEOUT_SCALE) || Math.min(10, Math.max(1, loadavg()[0]! / availableParallelism()));

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Migrates once per run into the templates every test database copies (test/templates.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: Math.round(30_000 * scale),
    hookTimeout: Math.round(60_000 * scale),
    teardownTimeout: Math.round(30_000 * scale),
    pool: 'forks',
    // Two cores: two files at a time; each file has its own database.
    maxWorkers: 2,
  },
});
