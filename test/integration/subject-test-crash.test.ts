import { spawn, type ChildProcess } from 'node:child_process';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSend, getSend } from '../../src/domain/sending/sends.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { CLI, cleanEnv, ROOT } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

/**
 * A subject test survives its workers being killed: real `hearth worker` processes get SIGKILL
 * while the sample goes out, the test's wait runs out while no worker is running at all (the
 * verdict is a job with run_at in Postgres, not a timer in a process), and another is killed while
 * the rest goes out. Counted at the Resend test server: every member one email, the sample with
 * its own subjects, the rest with the winner only.
 */
const RECIPIENTS = 3_000;
let t: TestDatabase;
let resend: ResendTestServer;
const expected = Array.from({ length: RECIPIENTS }, (_, i) => `reader${i + 1}@example.com`);

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, RECIPIENTS);
  resend = await startResendTestServer();
});
afterAll(async () => {
  await resend?.close();
  await t?.drop();
});

function startWorker(): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker'], {
    cwd: ROOT,
    env: cleanEnv({
      DATABASE_URL: t.url,
      APP_SECRET: TEST_SECRET,
      SITE_URL: 'https://news.example.com',
      RESEND_API_KEY: 're_test_key',
      RESEND_BASE_URL: resend.url,
      // 5 requests/s: the rest's 24 batches take about 5 s, so a kill lands mid-send.
      SEND_RATE_LIMIT: '5',
      LOG_LEVEL: 'error',
    }),
    stdio: 'ignore',
  });
}

const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const postedOf = async (sendId: string, part: 'sample' | 'rest') =>
  (
    await sql<{
      n: number;
    }>`select coalesce(sum(posted_count), 0)::int as n from send_batches where send_id = ${sendId} and part = ${part}`.execute(t.db)
  ).rows[0]!.n;

describe('a subject test survives SIGKILL', () => {
  for (const trial of [1, 2]) {
    it(`trial ${trial}: one email per member, the winner to the rest, after kills in the sample, the wait and the rest`, async () => {
      resend.countByRecipient().clear();
      resend.emails.length = 0;
      const subjects = [`Trial ${trial}: first line`, `Trial ${trial}: second line`];
      const postId = await makePost(t.db, { title: `Crash trial ${trial}` });
      const send = await createSend(t.db, {
        postId,
        segment: { newsletters: ['weekly'] },
        undoSeconds: 0,
        subjects,
        test: { sample: 0.2, wait: 'PT8S' },
      });
      // 1. Killed while the sample (600: 6 batches, about a second at 5/s) goes out.
      const first = startWorker();
      await waitFor(() => postedOf(send.id, 'sample'), { until: (n) => n > 0, timeout: 30_000, what: 'the first sample batch' });
      await sleep(trial * 300);
      await kill(first);
      // 2. The wait ends while no worker runs.
      const endsAt = await waitFor(async () => (await getSend(t.db, send.id)).subject_test?.ends_at, { what: 'the end of the wait' });
      await sleep(Math.max(0, Date.parse(endsAt) - Date.now()) + 500);
      expect((await getSend(t.db, send.id)).subject_test?.winner).toBeNull();
      // 3. A new worker finishes the sample, judges, and starts the rest: killed in the middle of it.
      const second = startWorker();
      await waitFor(() => postedOf(send.id, 'rest'), { until: (n) => n > 0, timeout: 60_000, what: 'the rest to start' });
      await sleep(500 + trial * 700);
      await kill(second);
      const restAtKill = await postedOf(send.id, 'rest');
      // 4. The last worker finishes.
      const last = startWorker();
      try {
        const done = await waitFor(() => getSend(t.db, send.id), {
          until: (s) => ['sent', 'failed', 'cancelled'].includes(s.status),
          timeout: 120_000,
          interval: 200,
          what: 'the send to finish',
        });
        expect(done.status).toBe('sent');
        expect(done.subject_test).toMatchObject({ winner: 0, winner_rule: 'tie on clicks (0) and human opens (0): first subject' });
      } finally {
        await kill(last);
      }
      expect(restAtKill).toBeLessThan(RECIPIENTS * 0.8); // the kill did land mid-rest
      const counts = resend.countByRecipient();
      const duplicates = expected.reduce((d, a) => d + Math.max(0, (counts.get(a) ?? 0) - 1), 0);
      const losses = expected.filter((a) => !counts.get(a)).length;
      expect({ received: counts.size, duplicates, losses }).toEqual({ received: RECIPIENTS, duplicates: 0, losses: 0 });
      const bySubject = new Map<string, number>();
      for (const e of resend.emails) bySubject.set(e.subject, (bySubject.get(e.subject) ?? 0) + 1);
      // Re-posts answered from the idempotency record are recorded once; the split is exact.
      expect(Object.fromEntries(bySubject)).toEqual({ [subjects[0]!]: 300 + 2_400, [subjects[1]!]: 300 });
    }, 240_000);
  }
});
