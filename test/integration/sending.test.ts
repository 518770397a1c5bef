import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { siteKeys } from '../../src/lib/site-keys.ts';
import { startWorker } from '../../src/worker.ts';
import { suppress } from '../../src/domain/members/suppression.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { waitFor } from '../helpers/wait.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

const FROM = 'Field Notes <letters@example.com>';
const FAST_RETRY = { maxAttempts: 3, baseSeconds: 0.2, maxSeconds: 1 };

let t: TestDatabase;
let resend: ResendTestServer;
let workerDb: DatabaseHandle;
let worker: QueueRunner | undefined;

function runtime(options: { timeoutMs?: number; baseUrl?: string } = {}): Runtime {
  const config = { ...loadConfig({ SITE_URL: 'https://news.example.com' }), appSecret: TEST_SECRET };
  const mailer = createResendMailer({
    apiKey: 're_test_key',
    baseUrl: options.baseUrl ?? resend.url,
    from: FROM,
    timeoutMs: options.timeoutMs,
  });
  return { config, keys: siteKeys(config), db: workerDb.db, mailer, stripe: undefined };
}

async function startTestWorker(options: { rate?: number; timeoutMs?: number; baseUrl?: string } = {}) {
  const rt = runtime(options);
  worker = await startWorker(rt, workerDb.pool, {
    retry: FAST_RETRY,
    limiter: createRateLimiter(rt.db, { requestsPerSecond: options.rate ?? 500 }),
  });
}

/**
 * A door in front of the provider that the test opens, so that "mid-send" is a state the test
 * sets rather than a race with the worker: batch posts (POST /emails/batch) beyond the first
 * `open` are held at the door, not passed on; the test then lets held ones through to the
 * provider or answers them 500 (the provider never saw them). Anything else passes.
 */
interface Door {
  url: string;
  /** Batch posts waiting at the door, in arrival order. */
  readonly held: number;
  /** Emails in the batch posts the provider accepted through the door (batches are 100 or fewer: which comes first is the lanes' race). */
  readonly passed: number;
  /** Passes the first held post to the provider; resolves once its answer went back. */
  passOne(): Promise<void>;
  /** Answers every held post 500; posts that come later go to the provider (a send that goes on would show). */
  failRest(): void;
  close(): Promise<void>;
}

async function startDoor(open: number): Promise<Door> {
  const held: Array<{ pass: () => Promise<void>; res: ServerResponse }> = [];
  let after = false;
  let passed = 0;
  const fail = (res: ServerResponse) => {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ statusCode: 500, name: 'internal_server_error', message: 'held at the door' }));
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
    const pass = async () => {
      const answer = await fetch(resend.url + req.url, { method: req.method, headers, body: Buffer.concat(chunks) });
      const back: Record<string, string> = {};
      for (const [k, v] of answer.headers)
        if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) back[k] = v;
      const body = Buffer.from(await answer.arrayBuffer());
      if (req.url === '/emails/batch' && answer.ok) passed += (JSON.parse(Buffer.concat(chunks).toString()) as unknown[]).length;
      res.writeHead(answer.status, back);
      res.end(body);
    };
    if (req.url !== '/emails/batch') return pass();
    if (open > 0) {
      open--;
      return pass();
    }
    if (after) return pass();
    held.push({ pass, res });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get held() {
      return held.length;
    },
    get passed() {
      return passed;
    },
    async passOne() {
      const first = held.shift();
      if (!first) throw new Error('nothing held at the door');
      await first.pass();
    },
    failRest() {
      after = true;
      for (const { res } of held.splice(0)) fail(res);
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const sendNow = (postId: string, segment: Record<string, unknown> = { newsletters: ['weekly'] }) =>
  createSend(t.db, { postId, segment, undoSeconds: 0 });
const statusOf = (id: string) => getSend(t.db, id);
/**
 * A send caught mid-way by the door (not by a race with the worker): a worker posting through
 * `door`, a send to the weekly newsletter, its first batch through and recorded, another held.
 */
async function midSend(door: Door): Promise<{ id: string }> {
  await startTestWorker({ baseUrl: door.url });
  const send = await sendNow(await makePost(t.db));
  await waitFor(() => door.held, { until: (n) => n >= 1, timeout: 30_000, what: 'a batch in flight' });
  await waitFor(() => statusOf(send.id), {
    until: (s) => door.passed > 0 && s.posted === door.passed,
    timeout: 30_000,
    what: 'first batch',
  });
  return { id: send.id };
}
/**
 * Until no batch of the send is being posted and none of its lanes is running. A lane that runs
 * later finds the send stopped (the claim reads its status), so nothing more is posted until a
 * command sets it sending again; a lane parked for later (a job due after a lease) may stay queued.
 */
async function lanesIdle(id: string) {
  await waitFor(
    async () => {
      const posting = await t.db
        .selectFrom('send_batches')
        .select('batch')
        .where('send_id', '=', id)
        .where('status', '=', 'posting')
        .execute();
      const running = await sql<{
        key: string;
      }>`select key from graphile_worker._private_jobs where key like ${`send-${id}-lane-%`} and locked_at is not null`.execute(t.db);
      return { posting: posting.length, running: running.rows.length };
    },
    { until: (s) => s.posting === 0 && s.running === 0, timeout: 20_000, what: `send ${id}'s lanes to stop` },
  );
}
/** A send's facts on the live feed, in commit order. */
async function liveFacts(id: string): Promise<Array<Record<string, unknown>>> {
  const rows = await t.db
    .selectFrom('live_events')
    .select(['type', 'data'])
    .where(sql<boolean>`data->>'id' = ${id}`)
    .where('type', 'in', ['send.progress', 'send.failed'])
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({ type: r.type, ...(r.data as Record<string, unknown>) }));
}
const milestone = (name: string) => (f: Record<string, unknown>) => f.type === 'send.progress' && f.milestone === name;

const finished = (id: string, timeoutMs = 30_000) =>
  waitFor(() => statusOf(id), {
    until: (s) => ['sent', 'failed', 'cancelled'].includes(s.status),
    timeout: timeoutMs,
    what: `send ${id} to finish`,
  });

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
  resend.clearFaults();
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
    await sql`update members set tier_id = (select id from tiers where slug = 'supporter') where email in ('reader5@example.com', 'reader150@example.com')`.execute(
      t.db,
    );
    const postId = await makePost(t.db, { visibility: 'paid' });
    const send = await sendNow(postId);
    expect(send.status).toBe('scheduled');
    expect(await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: FROM }, send.id)).toBe('prepared');
    const after = await statusOf(send.id);
    expect(after).toMatchObject({ status: 'sending', recipients: 450 });
    const batches = await t.db.selectFrom('send_batches').selectAll().where('send_id', '=', send.id).orderBy('batch').execute();
    expect(batches.map((b) => b.size)).toEqual([100, 100, 100, 100, 50]);
    const variants = await t.db
      .selectFrom('deliveries')
      .select(['variant', sql<string>`count(*)`.as('n')])
      .where('send_id', '=', send.id)
      .groupBy('variant')
      .orderBy('variant')
      .execute();
    expect(variants.map((v) => [v.variant, Number(v.n)])).toEqual([
      ['f', 2],
      ['p', 448],
    ]);
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

describe('the lifecycle', () => {
  it('undo returns a scheduled send to a draft before anything is prepared; scheduling again sends it', async () => {
    await startTestWorker();
    const postId = await makePost(t.db);
    const send = await createSend(t.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 2 });
    expect(send).toMatchObject({ status: 'scheduled', seconds_to_send: expect.any(Number) });
    const undone = await commandSend(t.db, send.id, 'undo');
    expect(undone.status).toBe('draft');
    // A twin scheduled a moment later with the same window (to a newsletter nobody reads): once the
    // worker has prepared it, the undone send's time has passed too.
    const twin = await createSend(t.db, { postId: await makePost(t.db), segment: { newsletters: ['extra'] }, undoSeconds: 2 });
    expect(await finished(twin.id)).toMatchObject({ status: 'sent', recipients: 0 });
    expect((await statusOf(send.id)).status).toBe('draft');
    expect(resend.emails).toHaveLength(0);
    await expect(commandSend(t.db, send.id, 'undo')).rejects.toThrow(/A draft send cannot be undone/);
    await scheduleSend(t.db, send.id, { undoSeconds: 0 });
    expect(await finished(send.id)).toMatchObject({ status: 'sent', posted: 450 });
  });

  it('a scheduled time is kept: nothing is prepared before it', async () => {
    await startTestWorker();
    const postId = await makePost(t.db);
    // Not due an hour ahead (a time two seconds ahead could already have come on a busy machine) ...
    const send = await createSend(t.db, { postId, segment: { newsletters: ['weekly'] }, sendAt: new Date(Date.now() + 3_600_000) });
    expect(await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: FROM }, send.id)).toBe('not_due');
    // ... and, scheduled again for a moment from now, prepared by the worker no earlier than that.
    await commandSend(t.db, send.id, 'undo');
    const at = new Date(Date.now() + 1500);
    await scheduleSend(t.db, send.id, { sendAt: at });
    const done = await finished(send.id);
    expect(done.status).toBe('sent');
    expect(new Date(done.prepared_at!).getTime()).toBeGreaterThanOrEqual(at.getTime() - 1000);
  });

  it('cancel mid-send stops every batch not yet posted', async () => {
    // Mid-send by the door, not by a race with the worker: one batch through, the others held.
    const door = await startDoor(1);
    try {
      const send = await midSend(door);
      const cancelled = await commandSend(t.db, send.id, 'cancel');
      expect(cancelled.status).toBe('cancelled');
      // One batch in flight at the cancel reaches the provider; the others fail and are not tried again.
      await door.passOne();
      door.failRest();
      await lanesIdle(send.id);
      const after = await statusOf(send.id);
      expect(after.status).toBe('cancelled');
      // Two batches through the door (the first, and the one in flight at the cancel), nothing else.
      expect(after.posted).toBe(door.passed);
      expect(after.posted).toBeGreaterThanOrEqual(150);
      expect(after.posted).toBeLessThanOrEqual(200);
      // What the provider got is what we recorded as posted (the batch in flight at the cancel counts).
      expect(resend.countByRecipient().size).toBe(after.posted);
      await expect(commandSend(t.db, send.id, 'resume')).rejects.toThrow(/cancelled send cannot be resumed/);
    } finally {
      await worker?.stop();
      worker = undefined;
      await door.close();
    }
  });

  it('pause holds the remaining batches; resume finishes them, each member once', async () => {
    // Mid-send by the door (see the cancel above): one batch through, the others held, then the pause.
    const door = await startDoor(1);
    const send = await midSend(door);
    await commandSend(t.db, send.id, 'pause');
    await door.passOne();
    door.failRest();
    await lanesIdle(send.id);
    // The worker behind the door goes; the one started for the resume posts straight to the provider.
    await worker!.stop();
    worker = undefined;
    await door.close();
    const paused = await statusOf(send.id);
    expect(paused.status).toBe('paused');
    // Idle: no lane is running and the rest of the batches wait, unclaimed.
    const open = await t.db
      .selectFrom('send_batches')
      .select('status')
      .where('send_id', '=', send.id)
      .where('status', 'not in', ['posted'])
      .execute();
    expect(open.length).toBeGreaterThan(0);
    expect(open.every((b) => b.status === 'pending')).toBe(true);
    expect((await statusOf(send.id)).posted).toBe(paused.posted);
    // Two batches through the door (the first, and the one in flight at the pause), nothing else.
    expect(paused.posted).toBe(door.passed);
    expect(paused.posted).toBeGreaterThanOrEqual(150);
    expect(paused.posted).toBeLessThanOrEqual(200);
    await startTestWorker();
    await commandSend(t.db, send.id, 'resume');
    expect(await finished(send.id)).toMatchObject({ status: 'sent', posted: 450 });
    expect([...resend.countByRecipient().values()].every((n) => n === 1)).toBe(true);
    expect(resend.countByRecipient().size).toBe(450);
  });
});

describe('provider trouble', () => {
  it('a 429 holds every lane for retry-after and the batch goes again, not counted as a failure', async () => {
    await startTestWorker();
    resend.failNext({ status: 429, retryAfter: 1 });
    const postId = await makePost(t.db);
    const started = Date.now();
    const send = await sendNow(postId);
    expect(await finished(send.id)).toMatchObject({ status: 'sent', posted: 450 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(resend.countByRecipient().size).toBe(450);
    expect([...resend.countByRecipient().values()].every((n) => n === 1)).toBe(true);
    // The live feed: paused by the provider once, resumed after, then done.
    const facts = await liveFacts(send.id);
    expect(facts.filter(milestone('paused'))).toEqual([expect.objectContaining({ reason: 'rate_limited' })]);
    expect(facts.findIndex(milestone('resumed'))).toBeGreaterThan(facts.findIndex(milestone('paused')));
    expect(facts.filter(milestone('started'))).toHaveLength(1);
    expect(facts.at(-1)).toMatchObject({ milestone: 'done', status: 'sent' });
    expect(
      (await t.db.selectFrom('sends').select('provider_paused_at').where('id', '=', send.id).executeTakeFirstOrThrow()).provider_paused_at,
    ).toBeNull();
  });

  it('a poisoned address fails its own delivery, not the batch', async () => {
    await startTestWorker();
    resend.rejectAddress('reader42@example.com');
    const postId = await makePost(t.db);
    const send = await sendNow(postId);
    expect(await finished(send.id)).toMatchObject({ status: 'sent', posted: 449, failed: 1 });
    const poisoned = await t.db
      .selectFrom('deliveries')
      .select(['status', 'error'])
      .where('send_id', '=', send.id)
      .where('email', '=', 'reader42@example.com')
      .executeTakeFirstOrThrow();
    expect(poisoned).toMatchObject({ status: 'rejected', error: expect.stringMatching(/Invalid `to`/) });
  });

  it('5xx, a timeout and a dropped connection after acceptance: the same batch again under the same key, delivered once', async () => {
    await startTestWorker({ timeoutMs: 500 });
    resend.failNext({ status: 500 });
    resend.failNext({ status: 'drop' });
    resend.failNext({ status: 'timeout', ms: 1500 });
    const postId = await makePost(t.db);
    const send = await sendNow(postId);
    expect(await finished(send.id)).toMatchObject({ status: 'sent', posted: 450, failed: 0 });
    expect(resend.countByRecipient().size).toBe(450);
    expect([...resend.countByRecipient().values()].every((n) => n === 1)).toBe(true);
    const facts = await liveFacts(send.id);
    const paused = facts.filter(milestone('paused'));
    expect(paused.length).toBeGreaterThanOrEqual(1);
    expect(paused.every((f) => f.reason === 'provider_error')).toBe(true);
    expect(facts.filter(milestone('resumed'))).toHaveLength(paused.length);
  });

  it('a send whose batches keep failing ends failed with the reason, and retrying sends only the remainder', async () => {
    await startTestWorker({ rate: 50 });
    const postId = await makePost(t.db);
    resend.failNext({ status: 500 }, 40);
    const send = await sendNow(postId);
    const failed = await finished(send.id);
    expect(failed.status).toBe('failed');
    // Lanes still posting other batches when one gave up finish first (one of them could give up too).
    await lanesIdle(send.id);
    expect(failed.error).toMatch(/gave up after 3 attempts: 500/);
    // The live feed: paused by the provider, then done as failed, and send.failed (for the alerts).
    const facts = await liveFacts(send.id);
    expect(facts.find(milestone('paused'))).toMatchObject({ reason: 'provider_error', error: expect.stringMatching(/^500/) });
    expect(facts.filter(milestone('done'))).toEqual([expect.objectContaining({ status: 'failed' })]);
    expect(facts.filter((f) => f.type === 'send.failed')).toHaveLength(1);
    const before = resend.countByRecipient().size;
    expect(before).toBeLessThan(450);
    resend.clearFaults();
    await commandSend(t.db, send.id, 'retry');
    expect(await finished(send.id)).toMatchObject({ status: 'sent', posted: 450 });
    expect(resend.countByRecipient().size).toBe(450);
    expect([...resend.countByRecipient().values()].every((n) => n === 1)).toBe(true);
    expect((await liveFacts(send.id)).at(-1)).toMatchObject({ milestone: 'done', status: 'sent' });
  });
});

describe('people who leave before their batch', () => {
  it('skips a member who unsubscribed or was suppressed after the snapshot, and writes the skip down', async () => {
    const postId = await makePost(t.db);
    const send = await sendNow(postId);
    await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: FROM }, send.id);
    await sql`update members set status = 'unsubscribed' where email = 'reader400@example.com'`.execute(t.db);
    await suppress(t.db, 'reader401@example.com', 'complained');
    await startTestWorker();
    expect(await finished(send.id)).toMatchObject({ status: 'sent', posted: 448, skipped: 2, progress: 1 });
    expect(resend.countByRecipient().has('reader400@example.com')).toBe(false);
    expect(resend.countByRecipient().has('reader401@example.com')).toBe(false);
    await sql`update members set status = 'active' where email = 'reader400@example.com'`.execute(t.db);
    await sql`delete from suppressions`.execute(t.db);
  });
});

describe('transactional mail during a bulk send', () => {
  it('a confirmation goes out while a throttled send is still running', async () => {
    // A send of 20 batches at one request a second: about 20 s of slots, while a confirmation waits
    // three slots at most (lib/mail-rate.ts). Five batches left a margin of one slot (1 s) for the
    // worker to take the confirmation's job, which a loaded machine could use up; here it is 15 s or more.
    await sql`insert into newsletters (slug, name, is_default) values ('throttled', 'Throttled', false) on conflict do nothing`.execute(
      t.db,
    );
    await sql`
      insert into members (email, name, status, tier_id, referral_code, confirmed_at, source_platform)
      select 'throttled' || g || '@example.com', 'Throttled ' || g, 'active', (select id from tiers where slug = 'free'), md5('throttled' || g)::text, now(), 'instagram'
        from generate_series(1, 2000) g
      on conflict do nothing`.execute(t.db);
    await sql`
      insert into member_newsletters (member_id, newsletter_id)
      select m.id, (select id from newsletters where slug = 'throttled') from members m where m.email like 'throttled%'
      on conflict do nothing`.execute(t.db);
    await startTestWorker({ rate: 1 });
    const postId = await makePost(t.db);
    const send = await sendNow(postId, { newsletters: ['throttled'] });
    await waitFor(() => statusOf(send.id), { until: (s) => s.posted >= 100, timeout: 30_000, what: 'first batch' });
    await queueEmail(t.db, {
      from: 'letters@example.com',
      replyTo: 'letters@example.com',
      to: ['newcomer@example.com'],
      subject: 'Confirm your subscription',
      text: 'Click',
    });
    await waitFor(async () => resend.countByRecipient().get('newcomer@example.com') ?? 0, {
      until: (n) => n === 1,
      timeout: 30_000,
      what: 'the confirmation',
    });
    // It went out while the send was still going, not after it (what the provider had received
    // before it, not a time: a busy machine slows both).
    const confirmation = resend.emails.findIndex((e) => e.to.includes('newcomer@example.com'));
    expect(resend.emails.slice(0, confirmation).filter((e) => e.subject !== 'Confirm your subscription').length).toBeLessThan(2000);
    await commandSend(t.db, send.id, 'cancel');
    await lanesIdle(send.id);
  });
});

describe('erasure', () => {
  it('erasing a member erases the address their deliveries kept', async () => {
    const { deleteMember } = await import('../../src/domain/members/preferences.ts');
    const postId = await makePost(t.db);
    const send = await sendNow(postId);
    await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: FROM }, send.id);
    const member = await t.db.selectFrom('members').select('id').where('email', '=', 'reader300@example.com').executeTakeFirstOrThrow();
    await deleteMember(t.db, member.id);
    const row = await t.db
      .selectFrom('deliveries')
      .select(['email', 'name'])
      .where('send_id', '=', send.id)
      .where('member_id', '=', member.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ email: '', name: null });
    await commandSend(t.db, send.id, 'cancel');
  });
});

describe('the referral block', () => {
  it('gives every member their own /r/<code> link in a post with {{referral}}, and the web page an invitation instead', async () => {
    await startTestWorker();
    const postId = await makePost(t.db, { title: 'Bring a friend', markdown: 'Our news.\n\n{{referral}}\n\nSee you soon.' });
    const send = await sendNow(postId);
    await finished(send.id);
    const codes = new Map(
      (await t.db.selectFrom('members').select(['email', 'referral_code']).execute()).map((m) => [m.email, m.referral_code]),
    );
    const mine = resend.emails.filter((e) => e.subject === 'Bring a friend');
    expect(mine.length).toBeGreaterThan(400);
    for (const email of mine) {
      expect(email.html).toContain(`href="https://news.example.com/r/${codes.get(email.to[0]!)}"`);
      expect(email.text).toContain(`https://news.example.com/r/${codes.get(email.to[0]!)}`);
    }
    const { findPublishedPost, postForViewer } = await import('../../src/domain/content/posts.ts');
    const post = await findPublishedPost(t.db, 'bring-a-friend');
    const page = postForViewer(post!, { kind: 'anonymous' });
    expect(page.html).toContain('class="referral-invite"');
    expect(page.html).not.toContain('{{referral}}');
    expect(page.description).not.toContain('{{referral}}');
  });
});

describe('recovery', () => {
  it('releases a dead worker’s claims at once and re-enqueues the lanes of a stalled send', async () => {
    const { releaseDeadClaims, resumeSends } = await import('../../src/domain/sending/recovery.ts');
    const postId = await makePost(t.db);
    const send = await sendNow(postId);
    await prepareSend(t.db, { siteUrl: 'https://news.example.com', from: FROM }, send.id);
    await sql`delete from graphile_worker._private_jobs`.execute(t.db);
    // Batch 0 was claimed by pid 999999 on this host, which is not running; batch 1 by a live one.
    await sql`update send_batches set status = 'posting', claimed_by = 'testhost-999999', lease_until = now() + interval '90 seconds' where send_id = ${send.id} and batch = 0`.execute(
      t.db,
    );
    await sql`update send_batches set status = 'posting', claimed_by = ${`testhost-${process.pid}`}, lease_until = now() + interval '90 seconds' where send_id = ${send.id} and batch = 1`.execute(
      t.db,
    );
    expect(await releaseDeadClaims(t.db, 'testhost', (pid) => pid === process.pid)).toBe(1);
    const leases = await t.db
      .selectFrom('send_batches')
      .select(['batch', sql<boolean>`lease_until < now()`.as('expired')])
      .where('send_id', '=', send.id)
      .where('batch', 'in', [0, 1])
      .orderBy('batch')
      .execute();
    expect(leases.map((l) => l.expired)).toEqual([true, false]);
    // A live lease counts as work in progress: not stalled. Without it, and nothing posted, it is.
    expect(await resumeSends(t.db, { stalledForSeconds: 120 })).toBe(0);
    await sql`update send_batches set status = 'pending', lease_until = null where send_id = ${send.id}`.execute(t.db);
    expect(await resumeSends(t.db, { stalledForSeconds: 120 })).toBe(1);
    const jobs = await sql<{
      key: string;
    }>`select key from graphile_worker._private_jobs where key like ${`send-${send.id}-lane-%`} order by key`.execute(t.db);
    expect(jobs.rows.length).toBe(5);
    await commandSend(t.db, send.id, 'cancel');
  });
});
