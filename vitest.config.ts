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
    // A failed test runs once more. One that then passes is named at the end of the run and in
    // .data/flaky.log (test/setup/flaky-reporter.ts): a race to find, not a pass to forget. A
    // test that fails twice fails the run. FLAKY_RETRY=0 turns the retry off (flake hunting).
    retry: Number(process.env.FLAKY_RETRY ?? 1),
    reporters: ['default', './test/setup/flaky-reporter.ts'],
  },
});
