import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishDuePosts } from '../../src/domain/content/publishing.ts';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { heard, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The anonymous page cache through the real server (two of them on one database): hits and
 * misses, 304s, invalidation for each kind of change (through this server, and written by
 * another process), gated text never served from the cache to a reader who may not read it, views
 * still counted for answers from memory.
 */
let t: TestDatabase;
let a: RunningServer;
let b: RunningServer;
let token = '';
let postId = '';
let paidCookie = '';
const SLUG = 'why-we-left-the-algorithm';
const WHOLE = 'So we built a home we own';

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long staff password', role: 'owner' });
  token = (await createApiToken(t.db, owner.id, 'test')).token;
  postId = (await t.db.selectFrom('posts').select('id').where('slug', '=', SLUG).executeTakeFirstOrThrow()).id;
  await t.db
    .updateTable('posts')
    .set({ tags: ['coffee'] })
    .where('id', '=', postId)
    .execute();
  const paid = await t.db
    .insertInto('members')
    .values({
      email: 'paid@example.com',
      name: 'Paula',
      status: 'active',
      tier_id: sql<string>`(select id from tiers where slug = 'supporter')` as unknown as string,
      referral_code: 'ref-paula',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  paidCookie = `hearth_member=${(await createMemberSession(t.db, paid.id)).token}`;
  [a, b] = await Promise.all([startServer({ databaseUrl: t.url }), startServer({ databaseUrl: t.url })]);
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await t?.drop();
});

async function get(server: RunningServer, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + path, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers, cache: res.headers.get('x-hearth-cache') };
}

/** Gets a page until it comes from the cache (the LISTEN connection may still be starting). */
async function warm(server: RunningServer, path: string): Promise<Awaited<ReturnType<typeof get>>> {
  return waitFor(() => get(server, path), { until: (r) => r.cache === 'hit', timeout: 30_000, what: `a hit on ${path}` });
}

/** The post's visibility through the API of server a (the revision is read first, as an editor would). */
async function setVisibility(visibility: 'public' | 'paid'): Promise<number> {
  const { revision } = await t.db.selectFrom('posts').select('revision').where('id', '=', postId).executeTakeFirstOrThrow();
  const res = await fetch(`${a.url}/api/v1/posts/${postId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ visibility, revision }),
  });
  await res.text();
  return res.status;
}

describe('the anonymous page cache', () => {
  it('renders a page once, then answers it from memory with validators a CDN may share', async () => {
    const first = await warm(a, `/posts/${SLUG}`);
    const again = await get(a, `/posts/${SLUG}`);
    expect(again.cache).toBe('hit');
    expect(again.body).toBe(first.body);
    expect(again.body).toContain(WHOLE);
    expect(again.headers.get('cache-control')).toMatch(/^public, max-age=0, s-maxage=\d+, stale-while-revalidate=\d+$/);
    expect(again.headers.get('vary')).toBe('Cookie');
    expect(again.headers.get('etag')).toMatch(/^"[\w-]+"$/);
    expect(Date.parse(again.headers.get('last-modified')!)).toBeLessThanOrEqual(Date.now());
    expect(again.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(again.headers.get('set-cookie')).toBeNull();
    for (const path of ['/', '/posts', '/rss.xml', '/sitemap.xml', '/join', '/join/instagram', '/links', '/tags/coffee']) {
      const r = await warm(a, path);
      expect(r.status).toBe(200);
    }
  });

  it('answers 304 to If-None-Match and If-Modified-Since, 200 to another ETag, HEAD without a body', async () => {
    // Nothing an earlier test wrote may arrive while this one compares dates with the copy's.
    await heard(a, t.db);
    const page = await warm(a, '/posts');
    const etag = page.headers.get('etag')!;
    const byTag = await fetch(`${a.url}/posts`, { headers: { 'if-none-match': `W/"x", ${etag}` } });
    expect(byTag.status).toBe(304);
    expect(byTag.headers.get('etag')).toBe(etag);
    expect(await byTag.text()).toBe('');
    expect((await fetch(`${a.url}/posts`, { headers: { 'if-none-match': '"something-else"' } })).status).toBe(200);
    // A date is trusted a second after the copy was made (Last-Modified has whole seconds).
    await new Promise((r) => setTimeout(r, 1_100));
    const later = new Date(Date.now()).toUTCString();
    expect((await fetch(`${a.url}/posts`, { headers: { 'if-modified-since': later } })).status).toBe(304);
    const earlier = new Date(Date.parse(page.headers.get('last-modified')!) - 60_000).toUTCString();
    expect((await fetch(`${a.url}/posts`, { headers: { 'if-modified-since': earlier } })).status).toBe(200);
    const head = await fetch(`${a.url}/posts`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    expect(await head.text()).toBe('');
  });

  it("keeps only a GET's render: a HEAD after a change does not leave an empty page behind", async () => {
    await warm(a, '/tags/coffee');
    await saveSiteSettings(t.db, { description: 'A HEAD first' });
    // Until the change is seen, HEAD is answered from the cache; then it goes to the app.
    await waitFor(() => fetch(`${a.url}/tags/coffee`, { method: 'HEAD' }), {
      until: (r) => r.headers.get('x-hearth-cache') !== 'hit',
    });
    const page = await get(a, '/tags/coffee');
    expect(page.body).toContain('Posts tagged');
    expect((await warm(a, '/tags/coffee')).body).toBe(page.body);
  });

  it('after a change, the old ETag gets the new page, not a 304', async () => {
    const before = await warm(a, '/');
    await saveSiteSettings(t.db, { title: 'Cache Roasters' });
    const after = await waitFor(() => get(a, '/', { 'if-none-match': before.headers.get('etag')! }), {
      until: (r) => r.status === 200 && r.body.includes('Cache Roasters'),
    });
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  it('never answers a reader with a session cookie from the cache, nor keeps what they were shown', async () => {
    expect(await setVisibility('paid')).toBe(200);
    // The paying member reads the whole post: a private answer, not from the cache.
    const member = await get(a, `/posts/${SLUG}`, { cookie: paidCookie });
    expect(member.body).toContain(WHOLE);
    expect(member.cache).toBeNull();
    expect(member.headers.get('cache-control')).toBe('private, no-store');
    // An anonymous reader right after gets the preview, and so do the next ones from memory.
    const anon = await get(a, `/posts/${SLUG}`);
    expect(anon.body).not.toContain(WHOLE);
    expect(anon.body).toContain('data-testid="paywall"');
    const hit = await warm(a, `/posts/${SLUG}`);
    expect(hit.body).not.toContain(WHOLE);
    // Any session cookie bypasses, even one that is no longer valid.
    expect((await get(a, `/posts/${SLUG}`, { cookie: 'theme=dark; hearth_member=expired' })).cache).toBeNull();
    expect((await get(a, '/', { cookie: 'hearth_staff=whatever' })).headers.get('cache-control')).toBe('private, no-store');
    await setVisibility('public');
  });

  it('stops serving a post whole the moment it turns paid, on the process that changed it and on the other', async () => {
    for (const s of [a, b]) expect((await warm(s, `/posts/${SLUG}`)).body).toContain(WHOLE);
    expect(await setVisibility('paid')).toBe(200);
    // The writing process: at once, no waiting.
    const same = await get(a, `/posts/${SLUG}`);
    expect(same.body).not.toContain(WHOLE);
    expect(same.body).toContain('data-testid="paywall"');
    // The other process: as soon as the notification arrives (milliseconds); never whole after.
    await waitFor(() => get(b, `/posts/${SLUG}`), { until: (r) => !r.body.includes(WHOLE) });
    for (let i = 0; i < 5; i++) expect((await get(b, `/posts/${SLUG}`)).body).not.toContain(WHOLE);
    await setVisibility('public');
    await waitFor(() => get(b, `/posts/${SLUG}`), { until: (r) => r.body.includes(WHOLE) });
  });

  /** A change written by another process (this test's own connection): both servers follow. */
  const changes: Array<[string, string, () => Promise<unknown>, ((body: string) => boolean) | null]> = [
    [
      'an edit',
      `/posts/${SLUG}`,
      () => t.db.updateTable('posts').set({ title: 'Edited by the cache test' }).where('id', '=', postId).execute(),
      (body) => body.includes('Edited by the cache test'),
    ],
    [
      'a new visible comment',
      `/posts/${SLUG}`,
      async () => {
        const m = await t.db.selectFrom('members').select('id').where('email', '=', 'paid@example.com').executeTakeFirstOrThrow();
        await t.db
          .insertInto('comments')
          .values({ post_id: postId, member_id: m.id, body: 'A fresh COMMENTTEXT', announced: true })
          .execute();
      },
      (body) => body.includes('COMMENTTEXT'),
    ],
    [
      'a reaction',
      `/posts/${SLUG}`,
      async () => {
        const m = await t.db.selectFrom('members').select('id').where('email', '=', 'paid@example.com').executeTakeFirstOrThrow();
        await t.db.insertInto('reactions').values({ post_id: postId, member_id: m.id, kind: 'love' }).execute();
      },
      (body) => /❤️<\/span>\s*<span class=\"reaction-label\">[^<]*<\/span>\s*1/.test(body),
    ],
    [
      'a renamed commenter',
      `/posts/${SLUG}`,
      () => t.db.updateTable('members').set({ name: 'Paula Renamed' }).where('email', '=', 'paid@example.com').execute(),
      (body) => body.includes('Paula Renamed'),
    ],
    [
      'site settings',
      '/links',
      () => saveSiteSettings(t.db, { title: 'Settings Changed Roasters' }),
      (body) => body.includes('Settings Changed Roasters'),
    ],
    [
      'a tier',
      '/posts/roast-profiles-we-never-published',
      () => t.db.updateTable('tiers').set({ name: 'Patron Tier' }).where('slug', '=', 'supporter').execute(),
      // Shown nowhere on this page: what counts is that the page is rendered again.
      null,
    ],
    [
      'an unpublish',
      '/posts',
      () => t.db.updateTable('posts').set({ status: 'draft' }).where('id', '=', postId).execute(),
      (body) => !body.includes(`/posts/${SLUG}"`),
    ],
  ];
  it.each(changes)('invalidates on %s, in every process', async (_what, path, change, shows) => {
    for (const s of [a, b]) {
      const before = await warm(s, path);
      if (shows) expect(shows(before.body)).toBe(false);
    }
    await change();
    for (const s of [a, b]) {
      const after = await waitFor(() => get(s, path), { until: (r) => r.cache !== 'hit', what: `a fresh ${path}` });
      if (shows) expect(shows(after.body)).toBe(true);
    }
  });

  it('counts anonymous views of pages answered from memory', async () => {
    await t.db.updateTable('posts').set({ status: 'published' }).where('id', '=', postId).execute();
    await warm(a, `/posts/${SLUG}`);
    // The five reads below come from a browser's user agent; every other request of this file is
    // fetch's own (agent class 'other'), so views the event writer may still be writing from the
    // warm-ups cannot be taken for theirs.
    const browserViews = async () =>
      Number(
        (
          await t.db
            .selectFrom('engagement_events')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('post_id', '=', postId)
            .where('kind', '=', 'view')
            .where('agent', '=', 'browser')
            .executeTakeFirstOrThrow()
        ).n,
      );
    // The publish above reaches the cache by NOTIFY, which a loaded machine may deliver after the
    // warm-up: wait until the page is served from memory again.
    await waitFor(() => get(a, `/posts/${SLUG}`), { until: (r) => r.cache === 'hit', what: 'a cached page' });
    expect(await browserViews()).toBe(0);
    const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
    for (let i = 0; i < 5; i++) expect((await get(a, `/posts/${SLUG}`, { 'user-agent': firefox })).cache).toBe('hit');
    await waitFor(browserViews, { until: (n) => n >= 5, timeout: 30_000, what: 'five views from the cache' });
    expect(await browserViews()).toBe(5);
  });
});

describe("a conversation changes one post's pages, not every page", () => {
  const OTHER = 'dialing-in-espresso-at-home';
  const form = (server: RunningServer, path: string, fields: Record<string, string>) =>
    fetch(server.url + path, {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, cookie: paidCookie },
      redirect: 'manual',
    });

  it('a comment on post A drops A at once on the process that took it, soon on the other; B and the lists stay cached', async () => {
    // Only if an earlier test left it otherwise: a write here would notify, and a loaded machine may
    // deliver that after the warm-up below and empty the lists this test expects to stay.
    await t.db.updateTable('posts').set({ status: 'published' }).where('id', '=', postId).where('status', '!=', 'published').execute();
    for (const s of [a, b]) for (const path of [`/posts/${SLUG}`, `/posts/${OTHER}`, '/', '/posts']) await warm(s, path);
    const before = { a: (await get(a, `/posts/${OTHER}`)).body, b: (await get(b, `/posts/${OTHER}`)).body };
    const posted = await form(a, `/posts/${SLUG}/comments`, { body: 'GRANULAR comment on A' });
    expect(posted.status).toBe(303);
    // The process that took the comment: A is rendered again at once, for readers and for its author.
    const fresh = await get(a, `/posts/${SLUG}`);
    expect(fresh.cache).not.toBe('hit');
    expect(fresh.body).toContain('GRANULAR comment on A');
    expect((await get(a, `/posts/${SLUG}`, { cookie: paidCookie })).body).toContain('GRANULAR comment on A');
    // The other process follows on the notification.
    const other = await waitFor(() => get(b, `/posts/${SLUG}`), {
      until: (r) => r.body.includes('GRANULAR comment on A'),
      what: 'post A with the comment on server b',
    });
    expect(other.status).toBe(200);
    // B and the lists were never dropped: a second request to each is a hit, the same bytes.
    for (const [s, name] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const again = await get(s, `/posts/${OTHER}`);
      expect(again.cache, `post B on server ${name}`).toBe('hit');
      expect(again.body).toBe(before[name]);
      expect((await get(s, '/')).cache, `home on server ${name}`).toBe('hit');
      expect((await get(s, '/posts')).cache, `archive on server ${name}`).toBe('hit');
    }
  });

  it('a reaction written by another process drops only that post, with its kept conversation for members too', async () => {
    for (const s of [a, b]) for (const path of [`/posts/${SLUG}`, `/posts/${OTHER}`]) await warm(s, path);
    const comment = await t.db
      .selectFrom('comments')
      .select('id')
      .where('post_id', '=', postId)
      .where('body', '=', 'GRANULAR comment on A')
      .executeTakeFirstOrThrow();
    const laugh = new RegExp(`id="comment-${comment.id}"[\\s\\S]*?data-kind="laugh">[^<]*? 1<`);
    expect((await get(a, `/posts/${SLUG}`)).body).not.toMatch(laugh);
    const paula = await t.db.selectFrom('members').select('id').where('email', '=', 'paid@example.com').executeTakeFirstOrThrow();
    await t.db.insertInto('reactions').values({ post_id: postId, comment_id: comment.id, member_id: paula.id, kind: 'laugh' }).execute();
    for (const s of [a, b]) {
      await waitFor(() => get(s, `/posts/${SLUG}`), { until: (r) => laugh.test(r.body), what: 'the reaction on A' });
      // The member's own page (not from the page cache; its conversation is kept per process) shows it pressed.
      const own = await get(s, `/posts/${SLUG}`, { cookie: paidCookie });
      expect(own.body).toMatch(
        new RegExp(`reactions\\?comment=${comment.id}"[^>]*>(?:(?!</form>)[\\s\\S])*value="laugh" aria-pressed="true"`),
      );
      expect((await get(s, `/posts/${OTHER}`)).cache).toBe('hit');
    }
  });

  it('a member toggling a reaction sees it at once; a gated post commented on is still never served whole to anonymous readers', async () => {
    const comment = await t.db
      .selectFrom('comments')
      .select('id')
      .where('post_id', '=', postId)
      .where('body', '=', 'GRANULAR comment on A')
      .executeTakeFirstOrThrow();
    const pressed = new RegExp(`reactions\\?comment=${comment.id}"[^>]*>(?:(?!</form>)[\\s\\S])*value="insightful" aria-pressed="true"`);
    // As the comment's form sends it: the comment in the form's address, the kind from the button.
    expect((await form(a, `/posts/${SLUG}/reactions?comment=${comment.id}`, { kind: 'insightful' })).status).toBe(303);
    expect((await get(a, `/posts/${SLUG}`, { cookie: paidCookie })).body).toMatch(pressed);

    expect(await setVisibility('paid')).toBe(200);
    for (const s of [a, b]) await waitFor(() => get(s, `/posts/${SLUG}`), { until: (r) => r.cache === 'hit' && !r.body.includes(WHOLE) });
    expect((await form(a, `/posts/${SLUG}/comments`, { body: 'A comment on the paid post' })).status).toBe(303);
    for (const s of [a, b]) {
      for (let i = 0; i < 3; i++) {
        const anon = await get(s, `/posts/${SLUG}`);
        expect(anon.body).not.toContain(WHOLE);
        expect(anon.body).not.toContain('A comment on the paid post');
      }
      expect((await get(s, `/posts/${SLUG}`, { cookie: paidCookie })).body).toContain(WHOLE);
    }
    await setVisibility('public');
  });
});

describe('what signed-in pages keep in memory too (the site settings, the published post)', () => {
  const page = (s: RunningServer) => get(s, `/posts/${SLUG}`, { cookie: paidCookie });

  it('follows a settings change, an edit and an unpublish written by another process, on every server', async () => {
    await t.db.updateTable('posts').set({ status: 'published' }).where('id', '=', postId).execute();
    // Both listeners up, and each server has read the settings and the post for a member once.
    for (const s of [a, b]) await warm(s, `/posts/${SLUG}`);
    for (const s of [a, b]) expect((await page(s)).status).toBe(200);
    await saveSiteSettings(t.db, { title: 'Kept Settings Changed' });
    await t.db.updateTable('posts').set({ title: 'Kept Post Edited' }).where('id', '=', postId).execute();
    for (const s of [a, b])
      await waitFor(() => page(s), {
        until: (r) => r.body.includes('Kept Settings Changed') && r.body.includes('Kept Post Edited'),
        what: 'the changes on a member page',
      });
    await t.db.updateTable('posts').set({ status: 'draft' }).where('id', '=', postId).execute();
    for (const s of [a, b]) await waitFor(() => page(s), { until: (r) => r.status === 404, what: 'a 404' });
    await t.db.updateTable('posts').set({ status: 'published' }).where('id', '=', postId).execute();
  });
});

describe('a statement that changes no row', () => {
  it("keeps every page: the worker's every-minute publish of due posts finds none almost always", async () => {
    const OTHER = 'dialing-in-espresso-at-home';
    for (const s of [a, b]) for (const path of ['/', '/posts', `/posts/${SLUG}`, `/posts/${OTHER}`]) await warm(s, path);
    expect(await publishDuePosts(t.db)).toBe(0);
    await t.db.updateTable('tiers').set({ name: 'Never' }).where('slug', '=', 'no-such-tier').execute();
    await t.db.deleteFrom('post_slugs').where('slug', '=', 'no-such-slug').execute();
    // A later change to one post: notifications come in commit order, so once a server has dropped
    // that post, it has heard whatever the statements above said.
    const other = await t.db.selectFrom('posts').select('id').where('slug', '=', OTHER).executeTakeFirstOrThrow();
    await t.db.updateTable('comments').set({ body: 'Touched' }).where('id', '=', '0').execute();
    const paula = await t.db.selectFrom('members').select('id').where('email', '=', 'paid@example.com').executeTakeFirstOrThrow();
    await t.db.insertInto('reactions').values({ post_id: other.id, member_id: paula.id, kind: 'insightful' }).execute();
    for (const [s, name] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      await waitFor(() => get(s, `/posts/${OTHER}`), { until: (r) => r.cache !== 'hit', what: `post B dropped on server ${name}` });
      for (const path of ['/', '/posts', `/posts/${SLUG}`]) expect((await get(s, path)).cache, `${path} on server ${name}`).toBe('hit');
    }
  });
});
