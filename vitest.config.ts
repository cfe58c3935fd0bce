import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: files run in parallel forks, each test file owns its ports (port 0).
    pool: 'forks',
    maxWorkers: 2,
  },
});
