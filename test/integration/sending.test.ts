import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { commandSend, createSend, getSend, scheduleSend } from '../../src/domain/sending/sends.ts';
import { prepareSend } from '../../src/domain/sending/prepare.ts';
import { countRecipients, resolveSegment, parseSegmentInput } from '../../src/domain/sending/segments.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createDatabase, type DatabaseHandle } from '../../src/lib/db.ts';
import { createResendMailer } from '../../src/lib/mailer/resend.ts';
import { createRateLimiter } from '../../src/lib/mail-rate.ts';
import { queueEmail } from '../../src/lib/mail-queue.ts';
import type { QueueRunner } from '../../src/lib/queue.ts';
import type { Runtime } from '../../src/lib/runtime.ts';
import { startWorker } from '../../src/worker.ts';
import { suppress } from '../../src/domain/members/suppression.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience, waitFor } from '../helpers/sending.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

const FROM = 'Field Notes <letters@example.com>';
const FAST_RETRY = { maxAttempts: 3, baseSeconds: 0.2, maxSeconds: 1 };

let t: TestDatabase;
let resend: ResendTestServer;
let workerDb: DatabaseHandle;
let worker: QueueRunner | undefined;

function runtime(options: { timeoutMs?: number } = {}): Runtime {
  const config = { ...loadConfig({ SITE_URL: 'https://news.example.com' }), appSecret: TEST_SECRET };
  const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: FROM, ...options });
  return { config, db: workerDb.db, mailer, stripe: undefined };
}

async function startTestWorker(options: { rate?: number; timeoutMs?: number } = {}) {
  const rt = runtime(options);
  worker = await startWorker(rt, workerDb.pool, { retry: FAST_RETRY, limiter: createRateLimiter(rt.db, { requestsPerSecond: options.rate ?? 500 }) });
}

const sendNow = (postId: string, segment: Record<string, unknown> = { newsletters: ['weekly'] }) => createSend(t.db, { postId, segment, undoSeconds: 0 });
const statusOf = (id: string) => getSend(t.db, id);
const finished = (id: string, timeoutMs = 30_000) => waitFor(() => statusOf(id), (s) => ['sent', 'failed', 'cancelled'].includes(s.status), timeoutMs, `send ${id} to finish`);

beforeAll(async () => {
  t = await createTestDatabase();
  workerDb = createDatabase(t.url, { max: 15 });
  resend = await startResendTestServer();
  await seedAudience(t.db, 450);
});
beforeEach(() => {
  resend.emails.length = 0;
  resend.countByRecipient().clear();
  resend.throttle(null);
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await sql`delete from graphile_worker._private_jobs`.execute(t.db);
});
afterAll(async () => {
  await resend.close();
  await workerDb.close();
  await t.drop();
});

describe('segments', () => {
  it('counts only active, subscribed, unsuppressed members matching every filter', async () => {
    const postId = await makePost(t.db);
    const weekly = await resolveSegment(t.db, parseSegmentInput({ newsletters: ['weekly'] }));
    expect(await countRecipients(t.db, weekly, postId)).toBe(450);
    await sql`update members set status = 'pending' where email = 'reader1@example.com'`.execute(t.db);
    await sql`update members set status = 'unsubscribed' where email = 'reader2@example.com'`.execute(t.db);
    await suppress(t.db, 'reader3@example.com', 'bounced');
    await sql`update members set source_platform = 'tiktok' where email in ('reader10@example.com', 'reader11@example.com')`.execute(t.db);
    expect(await countRecipients(t.db, weekly, postId)).toBe(447);
    const tiktok = await resolveSegment(t.db, parseSegmentInput({ newsletters: ['weekly'], platforms: ['tiktok'] }));
    expect(await countRecipients(t.db, tiktok, postId)).toBe(2);
    await expect(resolveSegment(t.db, parseSegmentInput({ newsletters: ['nope'] }))).rejects.toThrow(/no newsletter "nope"/);
    expect(() => parseSegmentInput({ newsletters: [] })).toThrow(/at least one newsletter/);
    expect(() => parseSegmentInput({ newsletters: ['weekly'], platforms: ['myspace'] })).toThrow(/no platform/);
    await sql`update members set status = 'active' where email in ('reader1@example.com', 'reader2@example.com')`.execute(t.db);
    await sql`delete from suppressions`.execute(t.db);
    await sql`update members set source_platform = 'instagram'`.execute(t.db);
  });
});

describe('preparing', () => {
  it('snapshots the segment into deliveries and fixed batches of at most 100, with the variant each member may read', async () => {
    await sql`update members set tier_id = (select id from tiers where slug = 'supporter') where email in ('reader5@example.com', 'reader150@example.com')`.execute(t.db);
    const postId = await makePost(t.db, { visibility: 'paid' });
    const send = await sendNow(postId);
    expect(send.status).toBe('scheduled');
    expect(await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: FROM }, send.id)).toBe('prepared');
    const after = await statusOf(send.id);
    expect(after).toMatchObject({ status: 'sending', recipients: 450 });
    const batches = await t.db.selectFrom('send_batches').selectAll().where('send_id', '=', send.id).orderBy('batch').execute();
    expect(batches.map((b) => b.size)).toEqual([100, 100, 100, 100, 50]);
    const variants = await t.db.selectFrom('deliveries').select(['variant', sql<string>`count(*)`.as('n')]).where('send_id', '=', send.id).groupBy('variant').orderBy('variant').execute();
    expect(variants.map((v) => [v.variant, Number(v.n)])).toEqual([['f', 2], ['p', 448]]);
    // A second preparation (a retried job) changes nothing.
    expect(await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: FROM }, send.id)).toBe('not_scheduled');
    await commandSend(t.db, send.id, 'cancel');
    await sql`update members set tier_id = (select id from tiers where slug = 'free')`.execute(t.db);
  });
});

describe('sending through the real Resend SDK', () => {
  it('posts every member exactly one email, in batches keyed send-<id>-batch-<n>, with their own unsubscribe headers', async () => {
    await startTestWorker();
    const postId = await makePost(t.db, { title: 'Every member once' });
    const send = await sendNow(postId);
    const done = await finished(send.id);
    expect(done).toMatchObject({ status: 'sent', recipients: 450, posted: 450, failed: 0, progress: 1 });
    const counts = resend.countByRecipient();
    expect(counts.size).toBe(450);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const keys = new Set(resend.emails.map((e) => e.idempotencyKey));
    expect([...keys].sort()).toEqual([0, 1, 2, 3, 4].map((n) => `send-${send.id}-batch-${n}`).sort());
    const one = resend.emails.find((e) => e.to[0] === 'reader7@example.com')!;
    expect(one.subject).toBe('Every member once');
    expect(one.html).toContain('Hi Reader 7,');
    expect(one.headers?.['List-Unsubscribe']).toMatch(/^<https:\/\/news\.example\.com\/unsubscribe\?token=/);
    expect(one.headers?.['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const other = resend.emails.find((e) => e.to[0] === 'reader8@example.com')!;
    expect(other.headers?.['List-Unsubscribe']).not.toBe(one.headers?.['List-Unsubscribe']);
    // Sending the same post again reaches nobody twice.
    const again = await sendNow(postId);
    expect(await finished(again.id)).toMatchObject({ status: 'sent', recipients: 0 });
  });
});
