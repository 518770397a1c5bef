import { appendFileSync, mkdirSync } from 'node:fs';
import type { Reporter, TestCase } from 'vitest/node';

/**
 * The suite retries a failed test once (vitest.config.ts). A test that passed only on its retry
 * is still a fault to find — in the test or in the product — so it is named at the end of the
 * run with its first attempt's error, and appended to `.data/flaky.log` for later runs to compare.
 * A test that fails both attempts fails the run as before.
 */
export default class FlakyReporter implements Reporter {
  private readonly flaky: string[] = [];

  onTestCaseResult(test: TestCase): void {
    if (!test.diagnostic()?.flaky) return;
    const failed = test.attempts().find((attempt) => attempt.state === 'failed');
    const message = (failed?.errors?.[0]?.message ?? 'no error recorded').split('\n')[0];
    this.flaky.push(`${test.module.relativeModuleId} > ${test.fullName}: ${message}`);
  }

  onTestRunEnd(): void {
    if (this.flaky.length === 0) return;
    const lines = this.flaky.map((line) => `  ${line}`).join('\n');
    console.log(`\nPassed only on retry (${this.flaky.length}), to be found and fixed:\n${lines}\n`);
    try {
      mkdirSync('.data', { recursive: true });
      appendFileSync('.data/flaky.log', `${new Date().toISOString()}\n${lines}\n`);
    } catch {
      // The console line above is the report; the log file is a convenience.
    }
  }
}
