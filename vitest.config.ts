import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/each.ts'],
    pool: 'forks',
    // A hang guard, not a speed goal (those live in bench/): CLI and browser tests spawn processes that a busy machine slows.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: more parallel files only queue behind each other and the database.
    maxWorkers: 2,
  },
});
