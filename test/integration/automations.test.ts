import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createAutomation,
  pauseAutomation,
  resumeAutomation,
  setAutomationsHeld,
  updateAutomation,
  type AutomationInput,
} from '../../src/domain/automations/automations.ts';
import { automationStats } from '../../src/domain/automations/stats.ts';
import { enqueueAutomationLanes } from '../../src/domain/automations/jobs.ts';
import { releaseDeadAutomationClaims } from '../../src/domain/automations/engine.ts';
import { previewNext } from '../../src/domain/automations/preview.ts';
import { createPost, updatePost } from '../../src/domain/content/editor.ts';
import { confirmToken } from '../../src/domain/members/links.ts';
import { unsubscribeAll } from '../../src/domain/members/preferences.ts';
import { confirmSubscription, subscribe } from '../../src/domain/members/subscribe.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createDatabase, type DatabaseHandle } from '../../src/lib/db.ts';
import { createRateLimiter } from '../../src/lib/mail-rate.ts';
import { createResendMailer } from '../../src/lib/mailer/resend.ts';
import type { QueueRunner } from '../../src/lib/queue.ts';
import type { Runtime } from '../../src/lib/runtime.ts';
import { siteKeys } from '../../src/lib/site-keys.ts';
import { startWorker } from '../../src/worker.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

/**
 * Automations with a real worker (in process), the real Resend SDK and the Resend test server:
 * members confirm through the real subscription path and the emails are counted at the server.
 */
const SITE = 'https://news.example.com';
const FROM = 'Field Notes <letters@example.com>';
const keys = siteKeys({ appSecret: TEST_SECRET, siteUrl: SITE });
const staff = null;

let t: TestDatabase;
let resend: ResendTestServer;
let workerDb: DatabaseHandle;
let worker: QueueRunner | undefined;

async function startTestWorker() {
  const config = { ...loadConfig({ SITE_URL: SITE }), appSecret: TEST_SECRET };
  const mailer = createResendMailer({ apiKey: 're_test_key', baseUrl: resend.url, from: FROM });
  const rt: Runtime = { config, keys: siteKeys(config), db: workerDb.db, mailer, stripe: undefined };
  worker = await startWorker(rt, workerDb.pool, {
    retry: { maxAttempts: 3, baseSeconds: 0.2, maxSeconds: 1 },
    limiter: createRateLimiter(rt.db, { requestsPerSecond: 200 }),
  });
}

let readers = 0;
/** A reader subscribes from a platform's landing page and confirms, as on the site. */
async function joinFrom(platform: string, language?: string): Promise<{ id: string; email: string }> {
  const email = `reader${++readers}-${platform}@example.com`;
  await subscribe(t.db, keys, {
    email,
    name: `Reader ${readers}`,
    language,
    landingPlatform: platform,
    landingPage: `/join/${platform}`,
    clientIp: `198.51.${readers % 250}.9`, // a network per reader: the per-network sign-up limit is not what these tests are about
  });
  const member = await t.db.selectFrom('members').select('id').where('email', '=', email).executeTakeFirstOrThrow();
  const newsletters = await t.db.selectFrom('newsletters').select('id').where('is_default', '=', true).execute();
  const result = await confirmSubscription(
    t.db,
    keys,
    confirmToken(
      TEST_SECRET,
      member.id,
      newsletters.map((n) => n.id),
    ),
  );
  expect(result.result).toBe('confirmed');
  return { id: member.id, email };
}

const emailsTo = (email: string) => resend.emails.filter((e) => e.to.includes(email) && e.idempotencyKey?.startsWith('automation-'));
const subjectsTo = (email: string) => emailsTo(email).map((e) => e.subject);
const automation = (input: Partial<AutomationInput> & Pick<AutomationInput, 'steps'>) =>
  createAutomation(t.db, SITE, { name: 'Test', trigger: { type: 'subscription_confirmed' }, status: 'live', ...input }, staff);
/**
 * Brings a member's next step due now and wakes the lanes: the tests use hour-long waits and end
 * them here, so what a test does "during the wait" (pause, unsubscribe, edit) cannot lose a race
 * with a one-second wait on a busy machine.
 */
async function comeDue(automationId: string, memberId: string): Promise<void> {
  await t.db
    .updateTable('automation_members')
    .set({ due_at: sql<Date>`now()` as unknown as Date })
    .where('automation_id', '=', automationId)
    .where('member_id', '=', memberId)
    .execute();
  await enqueueAutomationLanes(t.db);
}

/**
 * Every lane has had its turn since the last enqueue and now sleeps or has stopped: none is
 * running or due. The positive marker before checking that nothing more was sent: what a lane was
 * going to post after the last change it has posted by then (the test server records an email
 * before it answers, and a lane's job ends only after its posts are answered).
 */
const lanesCaughtUp = () =>
  waitFor(
    async () =>
      (
        await sql<{ n: number }>`
          select count(*)::int as n from graphile_worker.jobs
           where task_identifier = 'automation_lane' and (locked_at is not null or run_at <= now())`.execute(t.db)
      ).rows[0]!.n,
    { until: (n) => n === 0, what: 'every automation lane to have had its turn' },
  );

const progressOf = (automationId: string, memberId: string) =>
  t.db
    .selectFrom('automation_members')
    .selectAll()
    .where('automation_id', '=', automationId)
    .where('member_id', '=', memberId)
    .executeTakeFirstOrThrow();

beforeAll(async () => {
  t = await createTestDatabase();
  workerDb = createDatabase(t.url, { max: 10 });
  resend = await startResendTestServer();
  await sql`insert into newsletters (slug, name, is_default) values ('weekly', 'Weekly', true) on conflict do nothing`.execute(t.db);
});
beforeEach(async () => {
  resend.emails.length = 0;
  resend.clearFaults();
  // Each test's automations only: earlier ones are paused so they take no new members.
  await sql`update automations set status = 'paused'`.execute(t.db);
  await startTestWorker();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});
afterAll(async () => {
  await resend.close();
  await workerDb.close();
  await t.drop();
});

describe('welcome sequences per platform', () => {
  it('a member from /join/tiktok gets the TikTok sequence (two emails, a wait between), one from Instagram the other', async () => {
    const tiktok = await automation({
      name: 'TikTok welcome',
      trigger: { type: 'subscription_confirmed', platforms: ['tiktok'] },
      steps: [
        { type: 'email', subject: 'You found us on TikTok', markdown: 'Hi {{name}}, here are the posts TikTok readers liked most.' },
        { type: 'wait', duration: 'PT2S' },
        { type: 'email', subject: 'TikTok, day two', markdown: 'Still with us? [Read more]({{site_url}}/posts)' },
      ],
    });
    await automation({
      name: 'Instagram welcome',
      trigger: { type: 'subscription_confirmed', landing_pages: ['/join/instagram'] },
      steps: [{ type: 'email', subject: 'Hello from Instagram', markdown: 'Welcome, {{name}}.' }],
    });
    const ada = await joinFrom('tiktok');
    const bo = await joinFrom('instagram');
    await waitFor(() => subjectsTo(ada.email), { until: (s) => s.length >= 2, timeout: 30_000, what: 'the TikTok sequence' });
    await waitFor(() => subjectsTo(bo.email), { until: (s) => s.length >= 1, timeout: 30_000, what: 'the Instagram email' });
    // Both emails, each once. The order the provider receives them in is not what is checked: the
    // wait starts when the first email is written, and a busy lane may post it after the second.
    expect(subjectsTo(ada.email).toSorted()).toEqual(['TikTok, day two', 'You found us on TikTok']);
    expect(subjectsTo(bo.email)).toEqual(['Hello from Instagram']);
    const first = emailsTo(ada.email).find((e) => e.subject === 'You found us on TikTok');
    const second = emailsTo(ada.email).find((e) => e.subject === 'TikTok, day two');
    // The brand's design and variables: the name filled in, tracked links, one-click unsubscribe.
    expect(first!.html).toContain('Hi Reader');
    expect(first!.headers?.['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(second!.html).toContain(`${SITE}/t/c/`);
    expect(first!.idempotencyKey).toMatch(new RegExp(`^automation-${tiktok.id}-step-\\d+-member-${ada.id}$`));
    // Marked posted just after the provider's answer.
    const posted = await waitFor(
      () =>
        t.db
          .selectFrom('automation_deliveries')
          .select(['created_at', 'posted_at'])
          .where('member_id', '=', ada.id)
          .where('status', '=', 'posted')
          .orderBy('created_at')
          .execute(),
      { until: (rows) => rows.length === 2, timeout: 30_000, what: 'both deliveries marked posted' },
    );
    // The second email was written once the two-second wait was over. Not measured between the
    // posts: the first is posted by a lane while the wait already runs, later on a busy machine.
    expect(posted[1]!.created_at.getTime() - posted[0]!.created_at.getTime()).toBeGreaterThanOrEqual(2_000);
    for (const p of posted) expect(p.posted_at!.getTime()).toBeGreaterThanOrEqual(p.created_at.getTime());
    expect(await progressOf(tiktok.id, ada.id)).toMatchObject({ status: 'done' });
    const stats = await automationStats(t.db, tiktok.id);
    expect(stats.entered).toBe(1);
    expect(stats.steps.map((s) => s.emailed)).toEqual([1, 0, 1]);
  }, 90_000);
});

describe('languages', () => {
  it('writes to each member in their language: fixed parts, and a post step’s translation', async () => {
    const original = await createPost(
      t.db,
      { title: 'Welcome letter', markdown: 'Welcome to the roastery.', visibility: 'public', status: 'published' },
      null,
    );
    await createPost(
      t.db,
      {
        title: 'Lettre de bienvenue',
        markdown: 'Bienvenue à la brûlerie.',
        visibility: 'public',
        status: 'published',
        language: 'fr',
        translationOf: original.id,
      },
      null,
    );
    await automation({
      name: 'Languages',
      trigger: { type: 'subscription_confirmed', platforms: ['threads'] },
      steps: [
        { type: 'email', post_id: original.id },
        { type: 'email', subject: 'Plain step', markdown: 'Plain words.' },
      ],
    });
    const fr = await joinFrom('threads', 'fr');
    const en = await joinFrom('threads', 'en');
    for (const m of [fr, en]) await waitFor(() => emailsTo(m.email), { until: (e) => e.length === 2, timeout: 30_000, what: 'two emails' });
    // Two steps with no wait between are two emails on their way at once: which one the provider
    // gets first is not promised, so each is found by what it is.
    const postAndPlain = (email: string) => {
      const emails = emailsTo(email);
      return [emails.find((e) => e.subject !== 'Plain step'), emails.find((e) => e.subject === 'Plain step')];
    };
    const [frPost, frPlain] = postAndPlain(fr.email);
    expect(frPost!.subject).toBe('Lettre de bienvenue');
    expect(frPost!.html).toContain('Bienvenue à la brûlerie.');
    expect(frPost!.html).toContain('Se désabonner');
    expect(frPlain!.html).toContain('lang="fr"');
    expect(frPlain!.html).toContain('Plain words.');
    const [enPost, enPlain] = postAndPlain(en.email);
    expect(enPost!.subject).toBe('Welcome letter');
    expect(enPost!.html).toContain('Welcome to the roastery.');
    expect(enPost!.html).not.toContain('Se désabonner');
    expect(enPlain!.html).toContain('lang="en"');
  }, 90_000);
});

describe('gated content', () => {
  it('a post step rendered while its post was public, then made paid: a free member gets the preview only', async () => {
    const post = await createPost(
      t.db,
      { title: 'Roast notes', markdown: 'Open to all.\n\n<!--more-->\n\nThe paid roast curve.', visibility: 'public', status: 'published' },
      null,
    );
    await automation({
      name: 'Gated later',
      trigger: { type: 'subscription_confirmed', platforms: ['mastodon'] },
      steps: [{ type: 'email', post_id: post.id }],
    });
    // Made paid after the step was rendered (when the automation was saved).
    await updatePost(
      t.db,
      post.id,
      { title: 'Roast notes', markdown: 'Open to all.\n\n<!--more-->\n\nThe paid roast curve.', visibility: 'paid', status: 'published' },
      post.revision,
    );
    const m = await joinFrom('mastodon');
    const [email] = await waitFor(() => emailsTo(m.email), { until: (e) => e.length === 1, timeout: 30_000, what: 'the post step' });
    expect(email!.html).toContain('Open to all.');
    expect(email!.html).not.toContain('The paid roast curve.');
    expect(email!.text ?? '').not.toContain('The paid roast curve.');
  }, 90_000);
});

describe('the human behind the machine', () => {
  it('pause holds every member where they are; resume continues', async () => {
    const a = await automation({
      steps: [
        { type: 'email', subject: 'Pause one', markdown: 'One.' },
        { type: 'wait', duration: 'PT1H' },
        { type: 'email', subject: 'Pause two', markdown: 'Two.' },
      ],
    });
    const m = await joinFrom('x');
    await waitFor(() => subjectsTo(m.email), { until: (s) => s.length === 1, timeout: 30_000, what: 'the first email' });
    // The email is posted by one lane while another moves the member on: paused before the wait
    // itself has begun, the member would start the hour's wait only on resume (comeDue below would
    // bring the wait step due, not the email after it).
    await waitFor(() => progressOf(a.id, m.id), { until: (p) => p.step_id === a.steps[2]!.id, timeout: 30_000, what: 'the wait to start' });
    await pauseAutomation(t.db, a.id, staff);
    // The wait ends while paused (an hour-long wait ended here, not a one-second one the pause could lose a race with).
    await comeDue(a.id, m.id);
    await lanesCaughtUp();
    expect(subjectsTo(m.email)).toEqual(['Pause one']);
    expect(await progressOf(a.id, m.id)).toMatchObject({ status: 'active' });
    await resumeAutomation(t.db, a.id, staff, { perSecond: 200 });
    await waitFor(() => subjectsTo(m.email), { until: (s) => s.length === 2, timeout: 30_000, what: 'the second email after resume' });
    expect(subjectsTo(m.email)).toEqual(['Pause one', 'Pause two']);
  }, 90_000);

  it('the global hold stops every automation until released', async () => {
    await automation({ steps: [{ type: 'email', subject: 'Held', markdown: 'Held.' }] });
    await setAutomationsHeld(t.db, true, staff);
    const m = await joinFrom('x');
    await lanesCaughtUp();
    expect(subjectsTo(m.email)).toEqual([]);
    await setAutomationsHeld(t.db, false, staff);
    await waitFor(() => subjectsTo(m.email), { until: (s) => s.length === 1, timeout: 30_000, what: 'the email after the hold' });
    const log = await t.db
      .selectFrom('automation_changes')
      .select('action')
      .where('action', 'in', ['held_all', 'released_all'])
      .orderBy('id')
      .execute();
    expect(log.map((l) => l.action)).toEqual(['held_all', 'released_all']);
  }, 90_000);

  it('an unsubscribe mid-sequence stops it at once', async () => {
    const a = await automation({
      steps: [
        { type: 'email', subject: 'Before leaving', markdown: 'One.' },
        { type: 'wait', duration: 'PT1H' },
        { type: 'email', subject: 'Never sent', markdown: 'Two.' },
      ],
    });
    const m = await joinFrom('x');
    await waitFor(() => subjectsTo(m.email), { until: (s) => s.length === 1, timeout: 30_000, what: 'the first email' });
    await unsubscribeAll(t.db, m.id, 'one-click');
    expect(await progressOf(a.id, m.id)).toMatchObject({ status: 'left', reason: 'unsubscribed' });
    await comeDue(a.id, m.id); // the next step's time comes after the unsubscribe
    await lanesCaughtUp();
    expect(subjectsTo(m.email)).toEqual(['Before leaving']);
    const stats = await automationStats(t.db, a.id);
    expect(stats.steps[1]!.unsubscribed + stats.steps[2]!.unsubscribed).toBe(1);
  }, 90_000);

  it('an edit applies to members who have not reached the step; a removed step moves its members on', async () => {
    const a = await automation({
      steps: [
        { type: 'wait', duration: 'PT1H' },
        { type: 'email', subject: 'Old text', markdown: 'Old.' },
        { type: 'email', subject: 'Removed', markdown: 'Gone.' },
      ],
    });
    const m = await joinFrom('x');
    await waitFor(() => progressOf(a.id, m.id), { until: (p) => p.step_id === a.steps[1]!.id, timeout: 30_000, what: 'the wait to start' });
    const [wait, email] = a.steps;
    await updateAutomation(
      t.db,
      SITE,
      a.id,
      { steps: [wait!, { id: email!.id, type: 'email', subject: 'New text', markdown: 'New.' }] },
      staff,
    );
    await comeDue(a.id, m.id); // the wait ends after the edit, however slow the machine
    await waitFor(() => subjectsTo(m.email), { until: (s) => s.length === 1, timeout: 30_000, what: 'the edited email' });
    expect(subjectsTo(m.email)).toEqual(['New text']);
    expect(await progressOf(a.id, m.id)).toMatchObject({ status: 'done' });
  }, 90_000);

  it('previews what a member gets next, and when', async () => {
    const a = await automation({
      steps: [
        { type: 'wait', duration: 'P2D' },
        { type: 'email', subject: 'Day two for {{name}}', markdown: 'Hello {{name}}.' },
      ],
    });
    const m = await joinFrom('x');
    await waitFor(() => progressOf(a.id, m.id), { until: (p) => p.step_id === a.steps[1]!.id, timeout: 30_000, what: 'the wait to start' });
    const next = await previewNext(t.db, keys, a.id, m.id);
    expect(next.status).toBe('active');
    expect(next.email?.subject).toBe('Day two for {{name}}');
    expect(next.email?.html).toContain('Hello Reader');
    expect(next.at!.getTime() - Date.now()).toBeGreaterThan(47 * 3600_000);
  }, 90_000);
});

describe('conditions and labels', () => {
  it('routes by label, adds labels, and unsubscribes with reason sunset', async () => {
    await sql`insert into labels (name) values ('vip') on conflict do nothing`.execute(t.db);
    const a = await automation({
      steps: [
        { type: 'condition', if: { label: 'vip' }, then: { skip_to: 3 }, else: 'continue' },
        { type: 'unsubscribe', reason: 'sunset' },
        { type: 'label', add: 'stayed' },
      ],
    });
    const m = await joinFrom('x');
    await waitFor(() => progressOf(a.id, m.id), { until: (p) => p.status !== 'active', timeout: 30_000, what: 'the member to pass' });
    expect(await progressOf(a.id, m.id)).toMatchObject({ status: 'exited', reason: 'sunset' });
    const member = await t.db.selectFrom('members').select('status').where('id', '=', m.id).executeTakeFirstOrThrow();
    expect(member.status).toBe('unsubscribed');
    const event = await t.db
      .selectFrom('events')
      .select('data')
      .where('member_id', '=', m.id)
      .where('type', '=', 'unsubscribed')
      .executeTakeFirstOrThrow();
    expect(event.data).toMatchObject({ via: 'sunset' });
  }, 90_000);
});

describe('bad input', () => {
  it('refuses loops, waits over a year and conditions on unknown labels, with a message', async () => {
    await expect(
      automation({
        steps: [
          { type: 'email', subject: 'a', markdown: 'a' },
          { type: 'condition', if: { paid: true }, then: { skip_to: 1 } },
        ],
      }),
    ).rejects.toThrow(/loop/);
    await expect(automation({ steps: [{ type: 'wait', duration: 'P2Y' }] })).rejects.toThrow(/at most a year/);
    await expect(automation({ steps: [{ type: 'wait', duration: 'P400D' }] })).rejects.toThrow(/at most a year/);
    await expect(automation({ steps: [{ type: 'condition', if: { label: 'no-such-label' } }] })).rejects.toThrow(/no-such-label/);
  });
});

describe('recovery', () => {
  it('releases the automation batches of a dead worker of this machine at once, not a live one’s', async () => {
    await automation({ name: 'Recovery', steps: [{ type: 'email', subject: 'Recovery welcome', markdown: 'Hi {{name}}.' }] });
    const reader = await joinFrom('youtube');
    await waitFor(() => subjectsTo(reader.email), { until: (s) => s.length === 1, timeout: 30_000, what: 'the welcome email' });
    await worker?.stop();
    worker = undefined;
    // Two batches like the one just posted, claimed by pid 999999 on this host (not running) and by this process.
    const dead = 'testhost-999999';
    const live = `testhost-${process.pid}`;
    const made = await sql<{ id: string }>`
      insert into automation_batches (automation_id, step_id, email_id, from_address, reply_to, track_members, size, status, lease_until, claimed_by)
      select b.automation_id, b.step_id, b.email_id, b.from_address, b.reply_to, b.track_members, 0, 'posting', now() + interval '90 seconds', o.owner
      from (select * from automation_batches order by id desc limit 1) b cross join unnest(${[dead, live]}::text[]) as o(owner)
      returning id`.execute(t.db);
    const ids = made.rows.map((r) => r.id);
    try {
      expect(await releaseDeadAutomationClaims(t.db, 'testhost', (pid) => pid === process.pid)).toBe(1);
      const expired = async (owner: string) =>
        (
          await sql<{ expired: boolean }>`
            select lease_until < now() as expired from automation_batches where id = any(${ids}::bigint[]) and claimed_by = ${owner}`.execute(
            t.db,
          )
        ).rows[0]!.expired;
      expect(await expired(dead)).toBe(true);
      expect(await expired(live)).toBe(false);
    } finally {
      await sql`delete from automation_batches where id = any(${ids}::bigint[])`.execute(t.db);
    }
  }, 60_000);
});
