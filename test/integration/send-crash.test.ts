import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { crashTrial } from '../helpers/crash-trials.ts';
import { seedAudience } from '../helpers/sending.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

/**
 * Exactly-once under crashes: real worker processes killed with SIGKILL at random points of a
 * 20,000-recipient send, restarted, and every member counted at the provider. The suite runs
 * three trials; bench/send-crash.ts runs as many as asked (the figures in bench/RESULTS.md).
 */
const RECIPIENTS = 20_000;
let t: TestDatabase;
let resend: ResendTestServer;
const expected = Array.from({ length: RECIPIENTS }, (_, i) => `reader${i + 1}@example.com`);

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, RECIPIENTS);
  resend = await startResendTestServer({ light: true });
});
afterAll(async () => {
  await resend?.close();
  await t?.drop();
});

describe('a send survives its workers being killed', () => {
  for (const kills of [1, 2, 3]) {
    it(`delivers ${RECIPIENTS.toLocaleString('en')} emails exactly once with ${kills} SIGKILL${kills > 1 ? 's' : ''}`, async () => {
      const result = await crashTrial(t.db, { databaseUrl: t.url, resend, secret: TEST_SECRET, expected, kills });
      expect(result).toMatchObject({ received: RECIPIENTS, duplicates: 0, losses: 0 });
    }, 240_000);
  }
});
