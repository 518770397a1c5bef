import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboxMailer } from '../../src/lib/mailer/outbox.ts';
import { createResendMailer } from '../../src/lib/mailer/resend.ts';
import { MailerUsageError } from '../../src/lib/mailer/port.ts';
import { queueEmail, type MemberEmail } from '../../src/lib/mail-queue.ts';
import { createTaskList } from '../../src/worker.ts';
import { runOnce } from 'graphile-worker';
import { loadConfig } from '../../src/lib/config.ts';
import type { Runtime } from '../../src/lib/runtime.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';
import { waitFor } from '../helpers/wait.ts';

const FROM = 'Field Notes <letters@example.com>';
const msg = (to: string, subject = 'Hello'): MemberEmail => ({
  from: FROM,
  replyTo: 'replies@example.com',
  to: [to],
  subject,
  html: `<p>${subject}</p>`,
  text: subject,
  headers: { 'X-Test': '1' },
});

let t: TestDatabase;
let resend: ResendTestServer;
beforeAll(async () => {
  t = await createTestDatabase();
  resend = await startResendTestServer();
});
afterAll(async () => {
  await resend.close();
  await t.drop();
});

describe('outbox mailer', () => {
  it('keeps each email with its parts and headers', async () => {
    const mailer = createOutboxMailer(t.db, { from: FROM });
    const result = await mailer.send(msg('ana@example.com', 'Welcome'));
    expect(result.ok).toBe(true);
    const row = await t.db.selectFrom('outbox').selectAll().where('subject', '=', 'Welcome').executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      from_address: FROM,
      to_addresses: ['ana@example.com'],
      html: '<p>Welcome</p>',
      text: 'Welcome',
      headers: { 'X-Test': '1' },
    });
  });

  it('writes a batch once however often it is posted under the same key', async () => {
    const mailer = createOutboxMailer(t.db, { from: FROM });
    const batch = Array.from({ length: 100 }, (_, i) => msg(`m${i}@example.com`, 'Batch A'));
    const first = await mailer.sendBatch(batch, { idempotencyKey: 'send-1-batch-0' });
    const again = await mailer.sendBatch(batch, { idempotencyKey: 'send-1-batch-0' });
    expect(first).toEqual(again);
    const rows = await t.db.selectFrom('outbox').select('id').where('subject', '=', 'Batch A').execute();
    expect(rows).toHaveLength(100);
  });

  it('refuses an empty or oversized batch', async () => {
    const mailer = createOutboxMailer(t.db, { from: FROM });
    await expect(mailer.sendBatch([], { idempotencyKey: 'k' })).rejects.toThrow(MailerUsageError);
    await expect(
      mailer.sendBatch(
        Array.from({ length: 101 }, () => msg('x@example.com')),
        { idempotencyKey: 'k' },
      ),
    ).rejects.toThrow(/at most 100/);
  });
});

describe('Resend mailer (the real SDK against a local Resend-compatible server)', () => {
  const mailer = () => createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: FROM });

  it('sends one email with its headers', async () => {
    const result = await mailer().send(msg('ben@example.com', 'One'), { idempotencyKey: 'one-1' });
    expect(result).toMatchObject({ ok: true, id: expect.stringMatching(/^re_/) });
    expect(resend.emails.find((e) => e.subject === 'One')).toMatchObject({
      from: FROM,
      to: ['ben@example.com'],
      headers: { 'X-Test': '1' },
      idempotencyKey: 'one-1',
    });
  });

  it('delivers a batch retried under the same key once', async () => {
    const batch = Array.from({ length: 50 }, (_, i) => msg(`r${i}@example.com`, 'Batch R'));
    const first = await mailer().sendBatch(batch, { idempotencyKey: 'send-2-batch-0' });
    const retry = await mailer().sendBatch(batch, { idempotencyKey: 'send-2-batch-0' });
    expect(first.ok && retry.ok).toBe(true);
    expect(retry).toEqual(first);
    expect(resend.emails.filter((e) => e.subject === 'Batch R')).toHaveLength(50);
  });

  it('fails one refused address, not the whole batch', async () => {
    resend.rejectAddress('poison@example.com');
    const batch = [msg('ok1@example.com', 'Mixed'), msg('poison@example.com', 'Mixed'), msg('ok2@example.com', 'Mixed')];
    const result = await mailer().sendBatch(batch, { idempotencyKey: 'send-3-batch-0' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.rejected.map((r) => r.index)).toEqual([1]);
    expect(result.ids[0]).toMatch(/^re_/);
    expect(result.ids[1]).toBeNull();
    expect(result.ids[2]).toMatch(/^re_/);
  });

  it('maps 429 with retry-after, 5xx, and a refused key onto typed errors', async () => {
    resend.failNext({ status: 429, retryAfter: 7 });
    expect(await mailer().send(msg('c@example.com'))).toEqual({
      ok: false,
      error: expect.objectContaining({ kind: 'rate_limited', status: 429, retryAfterSeconds: 7 }),
    });
    resend.failNext({ status: 500 });
    expect(await mailer().send(msg('c@example.com'))).toEqual({
      ok: false,
      error: expect.objectContaining({ kind: 'unavailable', status: 500 }),
    });
    const conflict = await mailer().sendBatch([msg('other@example.com', 'Other payload')], { idempotencyKey: 'send-2-batch-0' });
    expect(conflict).toEqual({ ok: false, error: expect.objectContaining({ status: 409 }) });
    const bad = createResendMailer({ apiKey: 're_wrong', baseUrl: resend.url, from: FROM });
    // A bad key is the operator's mistake: retried (and logged), never a dropped email.
    expect(await bad.send(msg('c@example.com'))).toEqual({
      ok: false,
      error: expect.objectContaining({ kind: 'unavailable', status: 401 }),
    });
    expect(await mailer().send({ to: ['c@example.com'], subject: '' })).toEqual({
      ok: false,
      error: expect.objectContaining({ kind: 'invalid', status: 422 }),
    });
  });

  it('reports an unreachable provider as unavailable, without throwing', async () => {
    const down = createResendMailer({ apiKey: 're_test_key', baseUrl: 'http://127.0.0.1:1', from: FROM });
    expect(await down.send(msg('d@example.com'))).toEqual({ ok: false, error: expect.objectContaining({ kind: 'unavailable' }) });
  });
});

describe('transactional mail through the job queue', () => {
  function runtimeWith(mailerKind: 'resend' | 'outbox'): Runtime {
    const config = { ...loadConfig({}), appSecret: TEST_SECRET };
    const mailer =
      mailerKind === 'resend'
        ? createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: FROM })
        : createOutboxMailer(t.db, { from: FROM });
    return { config, keys: siteKeys(config), db: t.db, mailer, stripe: undefined };
  }

  it('commits the job with the caller’s transaction, or not at all', async () => {
    await t.db
      .transaction()
      .execute(async (trx) => {
        await queueEmail(trx, msg('rolled@example.com', 'Rolled back'));
        throw new Error('abort');
      })
      .catch(() => undefined);
    await queueEmail(t.db, msg('queued@example.com', 'Queued'));
    await runOnce({ pgPool: t.pool, taskList: createTaskList(runtimeWith('outbox'), t.pool) });
    const subjects = (await t.db.selectFrom('outbox').select('subject').execute()).map((r) => r.subject);
    expect(subjects).toContain('Queued');
    expect(subjects).not.toContain('Rolled back');
  });

  it('retries after a provider outage with the same idempotency key, delivering once', async () => {
    resend.failNext({ status: 500 });
    await queueEmail(t.db, msg('retry@example.com', 'After outage'));
    const taskList = createTaskList(runtimeWith('resend'), t.pool);
    await runOnce({ pgPool: t.pool, taskList });
    expect(resend.emails.filter((e) => e.subject === 'After outage')).toHaveLength(0);
    // graphile-worker backs off; make the failed job due now and run again (a loaded machine may
    // need another pass before the job is visible as due).
    // graphile-worker records a failure asynchronously (batched): wait until the failed job is
    // unlocked before making it due, or the next run finds nothing to do.
    await waitFor(
      async () =>
        Number(
          (
            await t.pool.query<{ n: string }>(
              `select count(*) as n from graphile_worker._private_jobs where attempts > 0 and locked_at is null`,
            )
          ).rows[0]!.n,
        ),
      {
        interval: 50,
        timeout: 30_000,
        what: 'the failed job to be unlocked',
      },
    );
    for (let pass = 0; pass < 5 && resend.emails.every((e) => e.subject !== 'After outage'); pass++) {
      await t.pool.query(`update graphile_worker._private_jobs set run_at = now() - interval '1 second' where attempts > 0`);
      await runOnce({ pgPool: t.pool, taskList });
    }
    const sent = resend.emails.filter((e) => e.subject === 'After outage');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.idempotencyKey).toMatch(/^mail-/);
  });
});
