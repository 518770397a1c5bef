import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { crashTrial } from '../helpers/crash-trials.ts';
import { seedAudience } from '../helpers/sending.ts';
import { startSmtpTestServer, type SmtpTestServer } from '../servers/smtp.ts';

/**
 * Exactly once on SMTP, as far as SMTP allows: real `hearth worker` processes sending through the
 * SMTP adapter to a local relay, killed with SIGKILL mid-send and restarted. Nobody is lost; a
 * kill can repeat only the messages the relay had accepted whose journal row had not committed,
 * at most one per pooled connection (SMTP_MAX_CONNECTIONS=5 in the trial). bench/send-crash.ts
 * runs many more (the figures in bench/RESULTS.md).
 */
const RECIPIENTS = 2_000;
const CONNECTIONS = 5;
let t: TestDatabase;
let smtp: SmtpTestServer;
const expected = Array.from({ length: RECIPIENTS }, (_, i) => `reader${i + 1}@example.com`);

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, RECIPIENTS);
  smtp = await startSmtpTestServer({ light: true });
});
afterAll(async () => {
  await smtp?.close();
  await t?.drop();
});

describe('a send through SMTP survives its workers being killed', () => {
  for (const kills of [1, 2]) {
    it(`loses nobody and repeats at most ${CONNECTIONS} emails per kill, with ${kills} SIGKILL${kills > 1 ? 's' : ''}`, async () => {
      const result = await crashTrial(t.db, { smtp, databaseUrl: t.url, secret: TEST_SECRET, expected, kills, midSend: true });
      expect(result.journalAtKills.every((n) => n > 0)).toBe(true);
      expect(result.losses).toBe(0);
      expect(result.received).toBe(RECIPIENTS);
      expect(result.duplicates).toBeLessThanOrEqual(kills * CONNECTIONS);
    }, 300_000);
  }
});
