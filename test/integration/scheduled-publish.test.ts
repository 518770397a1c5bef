import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPost, updatePost } from '../../src/domain/content/editor.ts';
import { publishDuePosts, publishJobKey } from '../../src/domain/content/publishing.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createOutboxMailer } from '../../src/lib/mailer/outbox.ts';
import { UNLIMITED } from '../../src/lib/mail-rate.ts';
import type { Runtime } from '../../src/lib/runtime.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { startWorker } from '../../src/worker.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

/** post.published for a scheduled post: emitted when its time comes, with the status change, once. */
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await t.db
    .insertInto('webhooks')
    .values({ url: 'https://hooks.example.com/hearth', events: ['post.published'], secret: 'whsec_dGVzdA==' })
    .execute();
});
afterAll(async () => {
  await t?.drop();
});

const eventsFor = async (postId: string) =>
  (
    await t.db.selectFrom('webhook_deliveries').select(['event_type', 'payload']).where('event_type', '=', 'post.published').execute()
  ).filter((d) => (d.payload as { data: { id: string } }).data.id === postId);

const statusOf = async (postId: string) =>
  (await t.db.selectFrom('posts').select('status').where('id', '=', postId).executeTakeFirstOrThrow()).status;

describe('a scheduled post when its time comes', () => {
  it('turns published and emits post.published in one transaction, once, however many runs race', async () => {
    // An hour ahead, brought forward below: a time 1.5 s ahead could come before the checks on a busy machine.
    const at = new Date(Date.now() + 3_600_000);
    const post = await createPost(
      t.db,
      { title: 'At dawn', markdown: 'Soon.', visibility: 'public', status: 'published', publishAt: at },
      null,
    );
    expect(await statusOf(post.id)).toBe('scheduled');
    // Scheduling queued the job at the post's time.
    const job = await sql<{ run_at: Date }>`select run_at from graphile_worker._private_jobs where key = ${publishJobKey(post.id)}`.execute(
      t.db,
    );
    expect(job.rows).toHaveLength(1);
    expect(new Date(job.rows[0]!.run_at)).toEqual(at);

    expect(await publishDuePosts(t.db)).toBe(0);
    expect(await eventsFor(post.id)).toEqual([]);
    // The time comes.
    await t.db
      .updateTable('posts')
      .set({ published_at: sql<Date>`now() - interval '1 second'` as unknown as Date })
      .where('id', '=', post.id)
      .execute();

    const runs = await Promise.all([publishDuePosts(t.db), publishDuePosts(t.db), publishDuePosts(t.db)]);
    expect(runs.reduce((a, b) => a + b, 0)).toBe(1);
    expect(await statusOf(post.id)).toBe('published');
    const events = await eventsFor(post.id);
    expect(events).toHaveLength(1);
    expect((events[0]!.payload as { type: string; data: unknown }).data).toEqual({ id: post.id, slug: post.slug });
    // Saving it afterwards is not a second publication.
    await updatePost(t.db, post.id, { title: 'At dawn', markdown: 'Now.', visibility: 'public', status: 'published' }, post.revision);
    expect(await publishDuePosts(t.db)).toBe(0);
    expect(await eventsFor(post.id)).toHaveLength(1);
  });

  it('is published by the worker at its time (the job), not only by someone saving it', async () => {
    // Scheduled an hour ahead (a time a second ahead could pass while createPost runs on a busy
    // machine, and the post would be published by the save), then its time comes: the post's and
    // its job's, as the clock would bring them.
    const post = await createPost(
      t.db,
      { title: 'By the worker', markdown: 'Soon.', visibility: 'public', status: 'published', publishAt: new Date(Date.now() + 3_600_000) },
      null,
    );
    expect(await statusOf(post.id)).toBe('scheduled');
    expect(await eventsFor(post.id)).toEqual([]);
    await t.db
      .updateTable('posts')
      .set({ published_at: sql<Date>`now() - interval '1 second'` as unknown as Date })
      .where('id', '=', post.id)
      .execute();
    await sql`update graphile_worker._private_jobs set run_at = now() where key = ${publishJobKey(post.id)}`.execute(t.db);
    const config = { ...loadConfig({ SITE_URL: 'https://news.example.com' }), appSecret: TEST_SECRET };
    const runtime: Runtime = {
      config,
      keys: siteKeys(config),
      db: t.db,
      mailer: createOutboxMailer(t.db, { from: config.mailFrom }),
      stripe: undefined,
    };
    const worker = await startWorker(runtime, t.pool, { limiter: UNLIMITED });
    try {
      await waitFor(() => statusOf(post.id), { until: (s) => s === 'published', timeout: 20_000, what: 'the worker to publish the post' });
    } finally {
      await worker.stop();
    }
    expect(await eventsFor(post.id)).toHaveLength(1);
  }, 40_000);

  it('a post rescheduled later is not published at its old time', async () => {
    // Soon enough to wait for, far enough that createPost (a transaction of a few statements,
    // which decides scheduled or published by the clock) is done long before it on a loaded machine.
    const soon = new Date(Date.now() + 3_000);
    const post = await createPost(
      t.db,
      { title: 'Moved', markdown: 'Soon.', visibility: 'public', status: 'published', publishAt: soon },
      null,
    );
    const later = new Date(Date.now() + 3_600_000);
    await updatePost(
      t.db,
      post.id,
      { title: 'Moved', markdown: 'Soon.', visibility: 'public', status: 'published', publishAt: later },
      post.revision,
    );
    expect(await statusOf(post.id)).toBe('scheduled');
    const job = await sql<{ run_at: Date }>`select run_at from graphile_worker._private_jobs where key = ${publishJobKey(post.id)}`.execute(
      t.db,
    );
    expect(job.rows.map((r) => new Date(r.run_at))).toEqual([later]);
    // The old time passes, by the database's clock (the one publishDuePosts reads).
    await waitFor(async () => (await sql<{ passed: boolean }>`select now() > ${soon} as passed`.execute(t.db)).rows[0]!.passed, {
      timeout: 30_000,
      what: 'the old time',
    });
    expect(await publishDuePosts(t.db)).toBe(0);
    expect(await statusOf(post.id)).toBe('scheduled');
    expect(await eventsFor(post.id)).toEqual([]);
  });
});
