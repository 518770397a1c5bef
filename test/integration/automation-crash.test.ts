import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { automationCrashTrial } from '../helpers/automation-crash.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { seedAudience } from '../helpers/sending.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

/**
 * Exactly-once under crashes: real worker processes killed with SIGKILL at random moments while
 * 1,500 members go through a two-email sequence, restarted, and every email counted at the
 * provider: no member gets a step twice, none misses one.
 */
const MEMBERS = 1_500;
let t: TestDatabase;
let resend: ResendTestServer;
let ids: string[];
let emailOf: Map<string, string>;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, MEMBERS);
  const rows = await sql<{ id: string; email: string }>`select id, email from members order by id`.execute(t.db);
  ids = rows.rows.map((r) => String(r.id));
  emailOf = new Map(rows.rows.map((r) => [String(r.id), r.email]));
  resend = await startResendTestServer({ light: true });
});
afterAll(async () => {
  await resend?.close();
  await t?.drop();
});

describe('an automation survives its workers being killed', () => {
  it(`takes ${MEMBERS} members through two emails exactly once across 12 SIGKILLs`, async () => {
    const result = await automationCrashTrial(t.db, {
      databaseUrl: t.url,
      resend,
      secret: TEST_SECRET,
      memberIds: ids,
      emailsOf: (id) => emailOf.get(id)!,
      kills: 12,
      rate: 4,
    });
    expect(result).toMatchObject({ emails: MEMBERS * 2, duplicates: 0, losses: 0 });
  }, 300_000);
});
