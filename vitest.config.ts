import { defineConfig } from 'vitest/config';
import { scaled } from './test/support/load.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Migrates once per run into the templates every test database copies (test/templates.ts).
    globalSetup: ['test/global-setup.ts'],
    // Scaled by the load when the run starts (test/support/load.ts); tests that set their own
    // timeout or deadline scale it the same way.
    testTimeout: scaled(30_000),
    hookTimeout: scaled(60_000),
    teardownTimeout: scaled(30_000),
    pool: 'forks',
    // Two cores: two files at a time; each file has its own database.
    maxWorkers: 2,
  },
});
