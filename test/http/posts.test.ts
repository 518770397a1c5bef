import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPost } from '../../src/domain/content/editor.ts';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { heard, type RunningServer, startServer } from '../helpers/server.ts';

/**
 * Reader surfaces of posts for an anonymous reader: gated text must be absent from the page,
 * its OpenGraph tags, the feed and the sitemap. (Member and paid viewers arrive with membership.)
 */
let t: TestDatabase;
let server: RunningServer;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});

const GATED = ['Start with 18 g in', 'Charge at 205'];
const get = async (path: string) => {
  const res = await fetch(server.url + path);
  return { status: res.status, body: await res.text(), headers: res.headers };
};

describe('post pages', () => {
  it('shows a public post whole', async () => {
    const { status, body } = await get('/posts/why-we-left-the-algorithm');
    expect(status).toBe(200);
    expect(body).toContain('So we built a home we own');
    expect(body).not.toContain('data-testid="paywall"');
    expect(body).toContain('<meta property="og:type" content="article">');
  });

  it.each([
    ['dialing-in-espresso-at-home', 'Every bag we sell comes with the same question', 'This post is for members'],
    ['roast-profiles-we-never-published', 'Supporters asked for the data', 'This post is for paying supporters'],
  ])('shows only the preview of %s and a call to subscribe; the gated text is nowhere in the page', async (slug, preview, heading) => {
    const { status, body } = await get(`/posts/${slug}`);
    expect(status).toBe(200);
    expect(body).toContain(preview);
    expect(body).toContain(heading);
    expect(body).toContain('data-testid="paywall"');
    for (const secret of GATED) expect(body).not.toContain(secret);
    const og = [...body.matchAll(/<meta (?:property|name)="(?:og|twitter):description" content="([^"]*)"/g)].map((m) => m[1]);
    expect(og.length).toBe(2);
    for (const d of og) for (const secret of GATED) expect(d).not.toContain(secret);
  });

  it('sends the fediverse only the preview of a gated post (the Article fetched by its id, the outbox)', async () => {
    const { saveSiteSettings } = await import('../../src/domain/site/settings.ts');
    const ap = { headers: { accept: 'application/activity+json' } };
    const ids = await t.db
      .selectFrom('posts')
      .select(['id', 'slug'])
      .where('slug', 'in', ['dialing-in-espresso-at-home', 'roast-profiles-we-never-published', 'why-we-left-the-algorithm'])
      .execute();
    const id = (slug: string) => ids.find((r) => r.slug === slug)!.id;
    // Off: nothing is served.
    expect((await fetch(`${server.url}/ap/posts/${id('dialing-in-espresso-at-home')}`, ap)).status).toBe(404);
    await saveSiteSettings(t.db, { fediverse: { enabled: true } });
    await heard(server, t.db);
    for (const [slug, preview] of [
      ['dialing-in-espresso-at-home', 'Every bag we sell comes with the same question'],
      ['roast-profiles-we-never-published', 'Supporters asked for the data'],
    ] as const) {
      const res = await fetch(`${server.url}/ap/posts/${id(slug)}`, ap);
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(JSON.parse(body)).toMatchObject({ type: 'Article', url: `${server.url}/posts/${slug}` });
      expect(body).toContain(preview);
      expect(body).toContain('/join/fediverse');
      for (const secret of GATED) expect(body).not.toContain(secret);
    }
    const open = await (await fetch(`${server.url}/ap/posts/${id('why-we-left-the-algorithm')}`, ap)).text();
    expect(open).toContain('So we built a home we own');
    // The outbox (every post live on the web, paged): the same previews, never the gated text.
    const outbox = (await (await fetch(`${server.url}/ap/actor/site/outbox`, ap)).json()) as { first: string; totalItems: number };
    expect(outbox.totalItems).toBeGreaterThanOrEqual(3);
    let pages = '';
    for (let next: string | undefined = outbox.first; next;) {
      const page = (await (await fetch(next, ap)).json()) as { next?: string };
      pages += JSON.stringify(page);
      next = page.next;
    }
    expect(pages).toContain('Every bag we sell comes with the same question');
    expect(pages).toContain('Supporters asked for the data');
    expect(pages).toContain('So we built a home we own');
    for (const secret of GATED) expect(pages).not.toContain(secret);
    await saveSiteSettings(t.db, { fediverse: { enabled: false } });
  });

  it('answers 404 for an unknown or unpublished post', async () => {
    expect((await get('/posts/no-such-post')).status).toBe(404);
    await t.db.insertInto('posts').values({ slug: 'draft-one', title: 'Draft', markdown: 'Not yet', status: 'draft' }).execute();
    expect((await get('/posts/draft-one')).status).toBe(404);
  });

  it('lists posts in the archive and links them from the home page', async () => {
    const archive = await get('/posts');
    expect(archive.body).toContain('href="/posts/why-we-left-the-algorithm"');
    expect(archive.body).not.toContain('draft-one');
    expect((await get('/')).body).toContain('href="/posts/roast-profiles-we-never-published"');
    expect((await get('/posts?after=garbage')).status).toBe(400);
  });
});

describe('writing posts as staff, through the API', () => {
  it('creates, reads and edits a post with last-write detection; roles apply; markup renders inert', async () => {
    const { createStaffUser } = await import('../../src/domain/staff/users.ts');
    const { createApiToken } = await import('../../src/domain/staff/api-tokens.ts');
    const tokens: Record<string, string> = {};
    for (const role of ['editor', 'moderator'] as const) {
      const u = await createStaffUser(t.db, { email: `${role}@example.com`, password: 'a long staff password', role });
      tokens[role] = (await createApiToken(t.db, u.id, 'test')).token;
    }
    const call = (path: string, init: RequestInit, role = 'editor') =>
      fetch(server.url + '/api/v1' + path, {
        ...init,
        headers: { authorization: `Bearer ${tokens[role]}`, 'content-type': 'application/json' },
      });
    const created = await call('/posts', {
      method: 'POST',
      body: JSON.stringify({
        title: 'Members only: grinder guide',
        markdown: 'Public bit.\n\n<!--more-->\n\nBurr secrets <script>alert(1)</script> [x](javascript:alert(1))',
        visibility: 'members',
        status: 'published',
      }),
    });
    expect(created.status).toBe(201);
    const { post } = (await created.json()) as { post: { id: string; slug: string; url: string; revision: number } };
    expect(post).toMatchObject({ slug: 'members-only-grinder-guide', revision: 1 });
    expect(post.url).toMatch(/\/posts\/members-only-grinder-guide$/);
    expect((await call('/posts', { method: 'POST', body: JSON.stringify({ title: 'x' }) }, 'moderator')).status).toBe(403);
    expect((await call('/posts', { method: 'POST', body: JSON.stringify({ title: 'Members only: grinder guide' }) })).status).toBe(409);
    expect((await call('/posts', { method: 'POST', body: JSON.stringify({ title: 'x', visibility: 'vip' }) })).status).toBe(400);

    const page = await get(`/posts/${post.slug}`);
    expect(page.body).toContain('Public bit.');
    expect(page.body).not.toContain('Burr secrets');

    const edited = await call(`/posts/${post.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ revision: 1, visibility: 'public', slug: 'grinder-guide' }),
    });
    expect(edited.status).toBe(200);
    expect(((await edited.json()) as { post: { revision: number } }).post.revision).toBe(2);
    const stale = await call(`/posts/${post.id}`, { method: 'PATCH', body: JSON.stringify({ revision: 1, title: 'Lost update' }) });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe('stale_revision');

    const open = await get('/posts/grinder-guide');
    expect(open.status).toBe(200);
    expect(open.body).toContain('Members only: grinder guide'); // fields left out of the PATCH are kept
    expect(open.body).toContain('Burr secrets &lt;script&gt;');
    expect(open.body).not.toContain('<script>alert(1)</script>');
    expect(open.body).not.toMatch(/href="\s*javascript:/i);
    const tiered = await call('/posts', {
      method: 'POST',
      body: JSON.stringify({
        title: 'Supporters only',
        markdown: 'Teaser.\n\n<!--more-->\n\nTier secret.',
        visibility: { tiers: ['supporter'] },
        status: 'published',
      }),
    });
    expect(tiered.status).toBe(201);
    const tieredPost = ((await tiered.json()) as { post: { id: string; visibility: unknown } }).post;
    expect(tieredPost.visibility).toEqual({ tiers: ['supporter'] });
    const tieredPage = await get('/posts/supporters-only');
    expect(tieredPage.body).toContain('Teaser.');
    expect(tieredPage.body).not.toContain('Tier secret.');
    expect((await call('/posts', { method: 'POST', body: JSON.stringify({ title: 'x1', visibility: { tiers: ['gold'] } }) })).status).toBe(
      400,
    );
    expect((await call('/posts', { method: 'POST', body: JSON.stringify({ title: 'x2', visibility: { tiers: [] } }) })).status).toBe(400);
    const kept = await call(`/posts/${tieredPost.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ revision: 1, title: 'Supporters only!' }),
    });
    expect(((await kept.json()) as { post: { visibility: unknown } }).post.visibility).toEqual({ tiers: ['supporter'] });

    const moved = await fetch(`${server.url}/posts/${post.slug}`, { redirect: 'manual' });
    expect(moved.status).toBe(301);
    expect(moved.headers.get('location')).toBe('/posts/grinder-guide');
  });
});

describe('staff reading the site', () => {
  it('see a gated post whole when signed in to the admin; the same page stays gated for everyone else', async () => {
    const { createStaffUser } = await import('../../src/domain/staff/users.ts');
    const { Browserless } = await import('../helpers/server.ts');
    await createStaffUser(t.db, { email: 'reader-staff@example.com', password: 'a long staff password', role: 'moderator' });
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'reader-staff@example.com', password: 'a long staff password' } });
    const res = await s.request('/posts/roast-profiles-we-never-published');
    const body = await res.text();
    expect(body).toContain('Charge at 205');
    expect(body).not.toContain('data-testid="paywall"');
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect((await get('/posts/roast-profiles-we-never-published')).body).not.toContain('Charge at 205');
    const forged = await fetch(server.url + '/posts/roast-profiles-we-never-published', {
      headers: { cookie: 'hearth_staff=forged-token-value-that-is-long-enough' },
    });
    expect(await forged.text()).not.toContain('Charge at 205');
  });
});

describe('the editor’s email preview', () => {
  it('shows the whole post and, for a paid post, the preview variant, sandboxed; a public post has no preview variant', async () => {
    const { createStaffUser } = await import('../../src/domain/staff/users.ts');
    const { Browserless } = await import('../helpers/server.ts');
    await createStaffUser(t.db, { email: 'previewer@example.com', password: 'a long staff password', role: 'editor' });
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'previewer@example.com', password: 'a long staff password' } });
    const paid = await t.db
      .selectFrom('posts')
      .select('id')
      .where('slug', '=', 'roast-profiles-we-never-published')
      .executeTakeFirstOrThrow();
    const full = await s.request(`/admin/posts/${paid.id}/email`);
    expect(full.headers.get('content-security-policy')).toMatch(/^sandbox; default-src 'none'/);
    expect(await full.text()).toContain('Charge at 205');
    const preview = await (await s.request(`/admin/posts/${paid.id}/email?variant=preview`)).text();
    expect(preview).toContain('Supporters asked for the data');
    expect(preview).not.toContain('Charge at 205');
    const open = await t.db.selectFrom('posts').select('id').where('slug', '=', 'why-we-left-the-algorithm').executeTakeFirstOrThrow();
    expect((await s.request(`/admin/posts/${open.id}/email?variant=preview`)).status).toBe(404);
    expect((await fetch(`${server.url}/admin/posts/${paid.id}/email`, { redirect: 'manual' })).status).toBe(303);
  });
});

describe('tags', () => {
  it('lists a tag’s posts, links tags from the post, and 404s an empty tag', async () => {
    await t.db
      .updateTable('posts')
      .set({ tags: ['sourcing', 'ethiopia'] })
      .where('slug', '=', 'the-washed-ethiopian-that-changed-our-menu')
      .execute();
    await heard(server, t.db);
    const tag = await get('/tags/Ethiopia');
    expect(tag.status).toBe(200);
    expect(tag.body).toContain('href="/posts/the-washed-ethiopian-that-changed-our-menu"');
    expect(tag.body).not.toContain('href="/posts/why-we-left-the-algorithm"');
    expect((await get('/posts/the-washed-ethiopian-that-changed-our-menu')).body).toContain('href="/tags/sourcing"');
    expect((await get('/tags/nothing-here')).status).toBe(404);
  });
});

describe('feeds', () => {
  it('serves RSS with previews only for gated posts', async () => {
    // A post whose body links and shows images by root-relative address, as the editor writes them.
    await createPost(
      t.db,
      {
        title: 'From the roastery',
        markdown: '![The roaster](/uploads/roaster.png) See [the archive](/posts).',
        visibility: 'public',
        status: 'published',
      },
      null,
    );
    await heard(server, t.db);
    const { status, body, headers } = await get('/rss.xml');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toContain('application/rss+xml');
    expect(body).toContain('<title>Why we left the algorithm</title>');
    expect(body).toContain('So we built a home we own');
    expect(body).toContain('Every bag we sell comes with the same question');
    expect(body).toContain('Read the rest on Field Notes Coffee');
    for (const secret of GATED) expect(body).not.toContain(secret);
    // Read away from the site: it names itself, its language, and no address in it is relative.
    expect(body).toMatch(/<atom:link href="http:\/\/[^"]+\/rss\.xml" rel="self" type="application\/rss\+xml"\/>/);
    expect(body).toContain('<language>en</language>');
    expect(body).not.toMatch(/\s(src|href)="\//);
    expect(body).toMatch(/src="http:\/\/[^"]+\/uploads\/roaster\.png"/);
    expect(body).toMatch(/href="http:\/\/[^"]+\/posts"/);
  });

  it('lists post addresses in the sitemap, and no text', async () => {
    const { body } = await get('/sitemap.xml');
    expect(body).toContain('/posts/roast-profiles-we-never-published</loc>');
    expect(body).not.toContain('draft-one');
    for (const secret of GATED) expect(body).not.toContain(secret);
  });
});
