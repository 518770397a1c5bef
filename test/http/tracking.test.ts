import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { clickToken, openToken } from '../../src/domain/tracking/tokens.ts';
import { TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { heard, type RunningServer } from '../helpers/server.ts';
import { makePost, startSendingSite, type SendingSite } from '../helpers/sending.ts';
import { waitFor } from '../helpers/wait.ts';
import type { ResendTestServer } from '../servers/resend.ts';

/** Opens and clicks through the real server: signed tokens, stored links only, machine flags, durability. */
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
let site: SendingSite | undefined;
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
let token = '';

beforeAll(async () => {
  site = await startSendingSite({ members: 20, token: 'tracking' });
  ({ t, server, resend, token } = site);
});
afterAll(async () => {
  await site?.stop();
});

async function sendPost(title: string): Promise<string> {
  const postId = await makePost(t.db, {
    title,
    markdown:
      'Fresh beans in [our shop](https://shop.example.com/beans?roast=light&size=1kg).\n\nAnd [a second link](https://example.org/story).',
  });
  const res = await fetch(`${server.url}/api/v1/sends`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ post_id: postId, segment: { newsletters: ['weekly'] }, undo_seconds: 0 }),
  });
  const { send } = (await res.json()) as { send: { id: string } };
  await waitFor(async () => (await t.db.selectFrom('sends').select('status').where('id', '=', send.id).executeTakeFirstOrThrow()).status, {
    until: (s) => s === 'sent',
    timeout: 30_000,
    what: 'the send',
  });
  return send.id;
}
function emailTo(address: string, subject: string) {
  const email = resend.emails.find((e) => e.to[0] === address && e.subject === subject);
  if (!email?.html) throw new Error(`no email to ${address}`);
  const shop = /href="([^"]*\/t\/c\/[^"]+)"[^>]*>our shop/.exec(email.html)?.[1];
  const pixel = /<img src="([^"]*\/t\/o\/[^"]+)"/.exec(email.html)?.[1];
  return { html: email.html, shop: shop!.replace(/^http:\/\/[^/]+/, server.url), pixel: pixel!.replace(/^http:\/\/[^/]+/, server.url) };
}
const events = (kind: 'open' | 'click', sendId: string) =>
  t.db
    .selectFrom('engagement_events')
    .select(['member_id', 'machine', 'agent', 'link'])
    .where('kind', '=', kind)
    .where('send_id', '=', sendId)
    .execute();
const memberId = async (email: string) =>
  (await t.db.selectFrom('members').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;

describe('open pixel and click redirect', () => {
  it('counts an open, and a privacy proxy’s prefetch apart as a machine open', async () => {
    const sendId = await sendPost('Opens');
    const { pixel, html } = emailTo('reader1@example.com', 'Opens');
    expect(html).toContain('/unsubscribe?token='); // the unsubscribe link is not rewritten
    const human = await fetch(pixel, { headers: { 'user-agent': BROWSER } });
    expect(human.status).toBe(200);
    expect(human.headers.get('content-type')).toBe('image/gif');
    expect(human.headers.get('cache-control')).toContain('no-store');
    expect((await human.arrayBuffer()).byteLength).toBeGreaterThan(20);
    await fetch(pixel, { headers: { 'user-agent': 'Mozilla/5.0' } });
    await fetch(pixel, {
      headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)' },
    });
    const rows = await events('open', sendId);
    const me = await memberId('reader1@example.com');
    expect(rows.map((r) => [r.member_id, r.machine, r.agent]).sort()).toEqual(
      [
        [me, false, 'browser'],
        [me, false, 'gmail-proxy'],
        [me, true, 'apple-mpp'],
      ].sort(),
    );
  });

  it('redirects only to the stored link; a scanner’s early click or a HEAD is a machine click', async () => {
    const sendId = await sendPost('Clicks');
    const { shop } = emailTo('reader2@example.com', 'Clicks');
    const early = await fetch(shop, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    expect(early.status).toBe(302);
    expect(early.headers.get('location')).toBe('https://shop.example.com/beans?roast=light&size=1kg');
    await sql`update deliveries set posted_at = now() - interval '5 minutes' where send_id = ${sendId}`.execute(t.db);
    const later = await fetch(`${shop}?url=https://evil.example`, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    expect(later.headers.get('location')).toBe('https://shop.example.com/beans?roast=light&size=1kg');
    const head = await fetch(shop, { method: 'HEAD', redirect: 'manual', headers: { 'user-agent': BROWSER } });
    expect(head.status).toBe(302);
    const bot = await fetch(shop, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (compatible; Barracuda Sentinel)' } });
    expect(bot.status).toBe(302);
    const rows = await events('click', sendId);
    expect(rows.map((r) => r.machine).sort()).toEqual([false, true, true, true]);
    const stored = await t.db.selectFrom('send_links').select(['link', 'url']).where('send_id', '=', sendId).orderBy('link').execute();
    const shopLink = stored.find((l) => l.url === 'https://shop.example.com/beans?roast=light&size=1kg')!.link;
    expect(stored.map((l) => l.url)).toContain('https://example.org/story');
    expect(rows.every((r) => r.link === shopLink)).toBe(true);
  });

  it('answers a tampered or unknown token with a plain 404, never a redirect', async () => {
    const sendId = await sendPost('Tampering');
    const { shop, pixel } = emailTo('reader3@example.com', 'Tampering');
    const flip = (url: string) => url.slice(0, -3) + (url.at(-3) === 'A' ? 'B' : 'A') + url.slice(-2);
    for (const url of [
      flip(shop),
      flip(pixel),
      `${server.url}/t/c/nope`,
      `${server.url}/t/c/${clickToken('another-secret-of-some-length', sendId, '1', 0)}`,
      `${server.url}/t/c/${clickToken(TEST_SECRET, sendId, '1', 99)}`,
      `${server.url}/t/c/${openToken(TEST_SECRET, sendId, '1')}`,
      `${server.url}/t/x/abc`,
      `${server.url}/t/c/a/../../admin`,
    ]) {
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status, url).toBe(404);
      expect(res.headers.get('location')).toBeNull();
    }
    expect((await fetch(shop, { method: 'POST', redirect: 'manual' })).status).toBe(405);
    expect(await events('click', sendId)).toHaveLength(0);
  });

  it('keeps every answered event across a crash (SIGKILL right after the answers)', async () => {
    const sendId = await sendPost('Durable');
    await sql`update deliveries set posted_at = now() - interval '5 minutes' where send_id = ${sendId}`.execute(t.db);
    const links = Array.from({ length: 20 }, (_, i) => emailTo(`reader${i + 1}@example.com`, 'Durable').shop);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => fetch(links[i % 20]!, { redirect: 'manual', headers: { 'user-agent': BROWSER } })),
    );
    expect(answers.every((r) => r.status === 302)).toBe(true);
    await server.stop('SIGKILL');
    expect(await events('click', sendId)).toHaveLength(200);
    server = await site!.restart();
  });

  it('with per-member tracking off, keeps anonymous counts only', async () => {
    await saveSiteSettings(t.db, { trackPerMember: false });
    await heard(server, t.db);
    const sendId = await sendPost('Anonymous');
    await sql`update deliveries set posted_at = now() - interval '5 minutes' where send_id = ${sendId}`.execute(t.db);
    const { shop, pixel } = emailTo('reader4@example.com', 'Anonymous');
    await fetch(pixel, { headers: { 'user-agent': BROWSER } });
    await fetch(shop, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    const rows = [...(await events('open', sendId)), ...(await events('click', sendId))];
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.member_id === null)).toBe(true);
    await saveSiteSettings(t.db, { trackPerMember: true });
    await heard(server, t.db);
  });
});

describe('reads', () => {
  it('a member arriving at a post from a tracked email link is reading it', async () => {
    const sendId = await sendPost('Read through');
    await sql`update deliveries set posted_at = now() - interval '5 minutes' where send_id = ${sendId}`.execute(t.db);
    const email = resend.emails.find((e) => e.to[0] === 'reader5@example.com' && e.subject === 'Read through')!;
    // The title links to the post itself.
    const title = /<h1[^>]*><a href="([^"]*\/t\/c\/[^"]+)"/.exec(email.html!)![1]!.replace(/^http:\/\/[^/]+/, server.url);
    const res = await fetch(title, { redirect: 'manual', headers: { 'user-agent': BROWSER } });
    expect(res.headers.get('location')).toMatch(/\/posts\/read-through$/);
    const me = await memberId('reader5@example.com');
    const post = await t.db.selectFrom('posts').select('id').where('slug', '=', 'read-through').executeTakeFirstOrThrow();
    const reads = await t.db
      .selectFrom('engagement_events')
      .select(['kind', 'member_id', 'post_id', 'machine'])
      .where('send_id', '=', sendId)
      .orderBy('kind')
      .execute();
    expect(reads).toEqual([
      { kind: 'click', member_id: me, post_id: post.id, machine: false },
      { kind: 'read', member_id: me, post_id: post.id, machine: false },
    ]);
  });
});

describe('post views', () => {
  it('counts an anonymous view without a cookie, and marks a crawler as a machine', async () => {
    const postId = await makePost(t.db, { title: 'Viewed' });
    const slug = (await t.db.selectFrom('posts').select('slug').where('id', '=', postId).executeTakeFirstOrThrow()).slug;
    const page = await fetch(`${server.url}/posts/${slug}`, { headers: { 'user-agent': BROWSER } });
    expect(page.status).toBe(200);
    expect(page.headers.getSetCookie()).toEqual([]);
    await fetch(`${server.url}/posts/${slug}`, { headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' } });
    const rows = await waitFor(
      () => t.db.selectFrom('engagement_events').select(['kind', 'member_id', 'machine']).where('post_id', '=', postId).execute(),
      { until: (r) => r.length === 2, what: 'two views' },
    );
    expect(rows.map((r) => [r.kind, r.member_id, r.machine]).sort()).toEqual([
      ['view', null, false],
      ['view', null, true],
    ]);
  });
});
