import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueWinnerJob } from '../../src/domain/sending/jobs.ts';
import type { TestDatabase } from '../helpers/db.ts';
import type { RunningServer } from '../helpers/server.ts';
import { makePost, startSendingSite, type SendingSite } from '../helpers/sending.ts';
import { waitFor } from '../helpers/wait.ts';
import type { RecordedEmail, ResendTestServer } from '../servers/resend.ts';

/**
 * Subject tests through the real server and worker and the Resend test server: the sample gets
 * the subjects, the winner (by unique human clicks, made through the real tracking endpoints)
 * goes to the rest, nobody gets two emails; a staff pick; cancel during the wait; bad input.
 */
const MEMBERS = 200;
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
/** Apple Mail Privacy Protection's proxy: every image of every email, opened or not (tracking/agents.ts). */
const APPLE_MPP = 'Mozilla/5.0';
const SCANNER = 'Mozilla/5.0 (compatible; Proofpoint URL Defense scanner)';
let site: SendingSite | undefined;
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
let token = '';

beforeAll(async () => {
  site = await startSendingSite({ members: MEMBERS, token: 'subject tests' });
  ({ t, server, resend, token } = site);
});
afterAll(async () => {
  await site?.stop();
});

const api = (path: string, body?: unknown) =>
  fetch(server.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

interface SendJson {
  id: string;
  status: string;
  recipients: number;
  subject_test: { subjects: string[]; winner: number | null; winner_rule: string | null; ends_at: string | null } | null;
}
const sendOf = async (id: string) => ((await (await api(`/api/v1/sends/${id}`)).json()) as { send: SendJson }).send;

async function startTest(subjects: string[], test: { sample: number; wait: string }): Promise<SendJson> {
  const postId = await makePost(t.db, {
    title: subjects[0],
    markdown: 'This week: [the new roast](https://shop.example.com/roast) and [our story](https://example.org/story).',
  });
  const res = await api('/api/v1/sends', { post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: 0, subjects, test });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { send: SendJson }).send;
}

const emailsOf = (subjects: string[]) => resend.emails.filter((e) => subjects.includes(e.subject));

/** Every recipient of these subjects got exactly one email of the send. */
function expectOnePerMember(emails: RecordedEmail[]): void {
  const per = new Map<string, number>();
  for (const e of emails) per.set(e.to[0]!, (per.get(e.to[0]!) ?? 0) + 1);
  expect([...per.values()].filter((n) => n > 1)).toEqual([]);
  expect(per.size).toBe(MEMBERS);
}

const postedCount = async (sendId: string) =>
  (await sql<{ n: number }>`select count(*)::int as n from deliveries where send_id = ${sendId} and status = 'posted'`.execute(t.db))
    .rows[0]!.n;
/**
 * Ends a test's wait now, as its time coming would: the tests wait an hour and end it here, so what
 * they do during the wait (clicks, a pause, a cancel) cannot lose a race with a wait of a few
 * seconds on a busy machine.
 */
const endTheWait = async (sendId: string) => {
  await sql`update sends set test_ends_at = now() where id = ${sendId}`.execute(t.db);
  await enqueueWinnerJob(t.db, sendId);
};
/**
 * No lane of the send running or due: whatever a lane was going to post, it has posted (the test
 * server records an email before answering, and a lane's job ends after its posts are answered).
 */
const lanesIdle = (sendId: string) =>
  waitFor(
    async () =>
      (
        await sql<{ n: number }>`select count(*)::int as n from graphile_worker.jobs
          where key like ${`send-${sendId}-lane-%`} and (locked_at is not null or run_at <= now())`.execute(t.db)
      ).rows[0]!.n,
    { until: (n) => n === 0, what: `the lanes of send ${sendId} to be idle` },
  );
const winnerJobs = async (sendId: string) =>
  (await sql<{ n: number }>`select count(*)::int as n from graphile_worker.jobs where key = ${`send-${sendId}-winner`}`.execute(t.db))
    .rows[0]!.n;

const local = (url: string) => url.replace(/^http:\/\/[^/]+/, server.url);
const clickLink = (e: RecordedEmail) => local(/href="([^"]*\/t\/c\/[^"]+)"[^>]*>the new roast/.exec(e.html!)![1]!);
const pixel = (e: RecordedEmail) => local(/<img src="([^"]*\/t\/o\/[^"]+)"/.exec(e.html!)![1]!);

describe('a subject test', () => {
  it('sends the winner by human clicks to the rest, even when the other subject has more machine opens', async () => {
    const subjects = ['A new roast is here', 'Smoky, sweet and yours'];
    const send = await startTest(subjects, { sample: 0.4, wait: 'PT1H' });
    // The sample: 40% of 200, split evenly; the rest waits.
    const sample = await waitFor(() => emailsOf(subjects), { until: (e) => e.length === 80, timeout: 30_000, what: 'the sample' });
    expect(sample.filter((e) => e.subject === subjects[0])).toHaveLength(40);
    expect(sample.filter((e) => e.subject === subjects[1])).toHaveLength(40);
    expect((await sendOf(send.id)).subject_test).toMatchObject({ winner: null, ends_at: expect.any(String) });
    await waitFor(() => postedCount(send.id), { until: (n) => n === 80, what: 'the sample marked posted' });
    // A click within 10 s of the email's arrival is a scanner's (agents.ts): these emails arrived a minute ago.
    await sql`update deliveries set posted_at = now() - interval '1 minute' where send_id = ${send.id}`.execute(t.db);
    const [a, b] = [sample.filter((e) => e.subject === subjects[0]), sample.filter((e) => e.subject === subjects[1])];
    // Subject B: every email "opened" by Apple's proxy, scanners following links, a few human opens, one human click.
    for (const e of b.slice(0, 30)) expect((await fetch(pixel(e), { headers: { 'user-agent': APPLE_MPP } })).status).toBe(200);
    for (const e of b.slice(0, 5)) {
      expect((await fetch(clickLink(e), { redirect: 'manual', headers: { 'user-agent': SCANNER } })).status).toBe(302);
      expect((await fetch(clickLink(e), { method: 'HEAD', redirect: 'manual', headers: { 'user-agent': BROWSER } })).status).toBe(302);
    }
    for (const e of b.slice(0, 6)) await fetch(pixel(e), { headers: { 'user-agent': BROWSER } });
    await fetch(clickLink(b[10]!), { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    // Subject A: three people click (one of them twice: unique clicks count people), two open.
    for (const e of [a[0]!, a[1]!, a[2]!, a[2]!]) {
      const res = await fetch(clickLink(e), { redirect: 'manual', headers: { 'user-agent': BROWSER } });
      expect(res.headers.get('location')).toBe('https://shop.example.com/roast');
    }
    for (const e of a.slice(0, 2)) await fetch(pixel(e), { headers: { 'user-agent': BROWSER } });

    await endTheWait(send.id);
    const done = await waitFor(() => sendOf(send.id), { until: (s) => s.status === 'sent', timeout: 60_000, what: 'the rest' });
    expect(done.subject_test).toMatchObject({ winner: 0, winner_rule: 'human clicks 3 vs 1' });
    const all = emailsOf(subjects);
    expectOnePerMember(all);
    // The rest (120) got only the winner.
    expect(all.filter((e) => e.subject === subjects[0])).toHaveLength(160);
    expect(all.filter((e) => e.subject === subjects[1])).toHaveLength(40);

    const stats = (await (await api(`/api/v1/stats/sends/${send.id}`)).json()) as {
      subject_test: { winner_rule: string; variants: Array<Record<string, unknown>>; rest: Record<string, unknown> };
    };
    expect(stats.subject_test.winner_rule).toBe('human clicks 3 vs 1');
    expect(stats.subject_test.variants).toEqual([
      expect.objectContaining({
        index: 0,
        subject: subjects[0],
        winner: true,
        recipients: 40,
        human_opens: 2,
        machine_opens: 0,
        unique_human_clicks: 3,
      }),
      expect.objectContaining({
        index: 1,
        subject: subjects[1],
        winner: false,
        recipients: 40,
        human_opens: 6,
        machine_opens: 30,
        unique_human_clicks: 1,
      }),
    ]);
    expect(stats.subject_test.rest).toMatchObject({ recipients: 120 });
  }, 120_000);

  it('lets staff pick the winner before the wait is over', async () => {
    const subjects = ['Three beans walk into a bar', 'Your October roast', 'Last call for the harvest'];
    const send = await startTest(subjects, { sample: 0.3, wait: 'PT1H' });
    await waitFor(() => emailsOf(subjects), { until: (e) => e.length === 60, timeout: 30_000, what: 'the sample' });
    await waitFor(() => postedCount(send.id), { until: (n) => n === 60, what: 'the sample marked posted' });
    const bad = await api(`/api/v1/sends/${send.id}/winner`, { subject_index: 3 });
    expect(bad.status).toBe(400);
    const res = await api(`/api/v1/sends/${send.id}/winner`, { subject_index: 2 });
    expect(res.status, await res.clone().text()).toBe(200);
    // The answer is the send as the pick left it: still sending, the rest not yet posted (the lanes
    // the pick starts may post it as soon as it commits; the answer is read before that).
    expect((await res.json()).send).toMatchObject({ status: 'sending', posted: 60, subject_test: { winner: 2 } });
    const done = await waitFor(() => sendOf(send.id), { until: (s) => s.status === 'sent', timeout: 60_000, what: 'the rest' });
    expect(done.subject_test).toMatchObject({ winner: 2, winner_rule: 'picked by owner@example.com' });
    const all = emailsOf(subjects);
    expectOnePerMember(all);
    expect(all.filter((e) => e.subject === subjects[2])).toHaveLength(20 + 140);
    // Decided once: a second pick is refused, and the winner job is gone.
    expect((await api(`/api/v1/sends/${send.id}/winner`, { subject_index: 0 })).status).toBe(409);
    const jobs = await sql<{
      n: number;
    }>`select count(*)::int as n from graphile_worker.jobs where key = ${`send-${send.id}-winner`}`.execute(t.db);
    expect(jobs.rows[0]!.n).toBe(0);
  }, 120_000);

  it('cancelled during the wait: the rest never goes', async () => {
    const subjects = ['Cancel me', 'Or cancel me'];
    const send = await startTest(subjects, { sample: 0.2, wait: 'PT1H' });
    await waitFor(() => emailsOf(subjects), { until: (e) => e.length === 40, timeout: 30_000, what: 'the sample' });
    const res = await api(`/api/v1/sends/${send.id}/cancel`, {});
    expect(res.status, await res.clone().text()).toBe(200);
    // The verdict job was withdrawn; and should the verdict run anyway once the wait is over, the held batches stay cancelled.
    expect(await winnerJobs(send.id)).toBe(0);
    await endTheWait(send.id);
    await waitFor(() => winnerJobs(send.id), { until: (n) => n === 0, timeout: 30_000, what: 'the verdict job to run' });
    expect(emailsOf(subjects)).toHaveLength(40);
    const after = await sendOf(send.id);
    expect(after).toMatchObject({ status: 'cancelled', subject_test: { winner: null } });
    const held = await t.db.selectFrom('send_batches').select('status').where('send_id', '=', send.id).where('part', '=', 'rest').execute();
    expect(held.length).toBeGreaterThan(0);
    expect(new Set(held.map((b) => b.status))).toEqual(new Set(['cancelled']));
    expect((await api(`/api/v1/sends/${send.id}/winner`, { subject_index: 0 })).status).toBe(409);
  }, 60_000);

  it('pause during the wait holds the rest until resumed', async () => {
    const subjects = ['Paused subject one', 'Paused subject two'];
    const send = await startTest(subjects, { sample: 0.2, wait: 'PT1H' });
    await waitFor(() => emailsOf(subjects), { until: (e) => e.length === 40, timeout: 30_000, what: 'the sample' });
    expect((await api(`/api/v1/sends/${send.id}/pause`, {})).status).toBe(200);
    // The verdict comes while paused; nothing more goes out.
    await endTheWait(send.id);
    await waitFor(() => sendOf(send.id), { until: (s) => s.subject_test?.winner !== null, timeout: 30_000, what: 'the verdict' });
    // The verdict's job is done and no lane runs or is due: had the verdict started the rest, it would be posted by now.
    await waitFor(() => winnerJobs(send.id), { until: (n) => n === 0, what: 'the verdict job to end' });
    await lanesIdle(send.id);
    expect(emailsOf(subjects)).toHaveLength(40);
    expect((await api(`/api/v1/sends/${send.id}/resume`, {})).status).toBe(200);
    await waitFor(() => sendOf(send.id), { until: (s) => s.status === 'sent', timeout: 60_000, what: 'the rest' });
    expectOnePerMember(emailsOf(subjects));
  }, 90_000);
});

describe('bad input', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['one subject', { subjects: ['Only one'] }, /2 to 4 subject lines/],
    ['five subjects', { subjects: ['a', 'b', 'c', 'd', 'e'] }, /2 to 4 subject lines/],
    ['the same subject twice', { subjects: ['Same', 'Same'] }, /must differ/],
    ['a sample of 0', { subjects: ['a', 'b'], test: { sample: 0, wait: 'PT4H' } }, /between 0 and 1/],
    ['a sample of 1', { subjects: ['a', 'b'], test: { sample: 1, wait: 'PT4H' } }, /between 0 and 1/],
    ['a sample of 1.5', { subjects: ['a', 'b'], test: { sample: 1.5, wait: 'PT4H' } }, /between 0 and 1/],
    ['a wait that is not ISO-8601', { subjects: ['a', 'b'], test: { sample: 0.2, wait: '4 hours' } }, /ISO-8601/],
    ['a wait of more than 7 days', { subjects: ['a', 'b'], test: { sample: 0.2, wait: 'P8D' } }, /at most 7 days/],
    ['a test without subjects', { test: { sample: 0.2, wait: 'PT4H' } }, /subjects/],
  ];
  for (const [what, extra, message] of cases) {
    it(`refuses ${what} with a 400 and a message`, async () => {
      const postId = await makePost(t.db);
      const res = await api('/api/v1/sends', { post_id: postId, segment: { newsletters: ['weekly'] }, ...extra });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(body.error.message).toMatch(message);
    });
  }
  it('makes no send for refused input', async () => {
    const n = await sql<{ n: number }>`select count(*)::int as n from sends where subjects is not null and status = 'draft'`.execute(t.db);
    expect(n.rows[0]!.n).toBe(0);
  });
});
