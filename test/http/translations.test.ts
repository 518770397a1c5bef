import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { runCli, startServer, type RunningServer } from '../helpers/server.ts';

/**
 * Post translations through the API and on the web: Post.language and translation_of, the
 * checks on a link, hreflang alternates and the post's lang on its page, and a paid translation
 * still gated (page, feed, API) for a free member.
 */
let t: TestDatabase;
let server: RunningServer;
let auth: Record<string, string>;
let freeCookie: string;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  const cliEnv = { DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, LOG_LEVEL: 'warn' };
  server = await startServer({ databaseUrl: t.url });
  await runCli(['staff:create', '--email', 'owner@example.com', '--password', 'a long owner password', '--role', 'owner'], cliEnv);
  auth = { authorization: `Bearer ${(await runCli(['token:create', '--email', 'owner@example.com'], cliEnv)).stdout.trim()}` };
  const member = await t.db
    .insertInto('members')
    .values({
      email: 'free@example.com',
      status: 'active',
      referral_code: 'freecode1',
      tier_id: (await t.db.selectFrom('tiers').select('id').where('slug', '=', 'free').executeTakeFirstOrThrow()).id,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  freeCookie = `hearth_member=${(await createMemberSession(t.db, member.id)).token}`;
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

const api = (path: string, method = 'GET', body?: unknown) =>
  fetch(server.url + path, {
    method,
    headers: { ...auth, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const page = async (path: string, cookie?: string) => {
  const res = await fetch(server.url + path, cookie ? { headers: { cookie } } : {});
  return { status: res.status, body: await res.text() };
};

const SECRET = 'La mouture exacte est de 17,5 grammes';
let original: { id: string; slug: string };
let french: { id: string; slug: string };

describe('translations in the posts API', () => {
  it('creates an original and its French translation; Post shows language and translation_of', async () => {
    const made = await api('/api/v1/posts', 'POST', {
      title: 'Roasting notes',
      slug: 'roasting-notes',
      markdown: 'We roast on Tuesdays.',
      status: 'published',
    });
    expect(made.status).toBe(201);
    const o = ((await made.json()) as { post: { id: string; slug: string; language: string | null; translation_of: string | null } }).post;
    expect(o).toMatchObject({ language: null, translation_of: null });
    original = o;
    const tr = await api('/api/v1/posts', 'POST', {
      title: 'Notes de torréfaction',
      slug: 'notes-de-torrefaction',
      markdown: `Nous torréfions le mardi.\n\n<!--more-->\n\n${SECRET}.`,
      visibility: 'paid',
      status: 'published',
      language: 'fr',
      translation_of: original.id,
    });
    expect(tr.status).toBe(201);
    french = ((await tr.json()) as { post: { id: string; slug: string } }).post;
    expect(french).toMatchObject({ language: 'fr', translation_of: original.id });
    const read = (await (await api(`/api/v1/posts/${french.id}`)).json()) as { post: { language: string; translation_of: string } };
    expect(read.post).toMatchObject({ language: 'fr', translation_of: original.id });
  });

  it.each([
    [{ language: 'zz' }, /not one of this site's languages/],
    [{ language: 'fr' }, /already has a translation in "fr"/],
    [{ language: 'en' }, /already in "en"/],
    [{ language: null }, /needs its language/],
    [{ language: 'fr', translation_of: '999999' }, /no post 999999/],
    [{ language: 'fr', translation_of: 'x1' }, /translation_of/],
  ])('refuses a bad link %j with a 400 naming the reason', async (link, reason) => {
    const res = await api('/api/v1/posts', 'POST', { title: 'Bad link', markdown: 'x', translation_of: original.id, ...link });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(reason);
  });

  it('refuses a translation of a translation', async () => {
    const res = await api('/api/v1/posts', 'POST', { title: 'Nested', markdown: 'x', language: 'en', translation_of: french.id });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('original_is_translation');
  });

  it('keeps the link when a PATCH leaves it out, and clears it with null', async () => {
    const made = (await (await api('/api/v1/posts', 'POST', { title: 'Temp', markdown: 'x', language: 'en' })).json()) as {
      post: { id: string; revision: number };
    };
    const patched = await api(`/api/v1/posts/${made.post.id}`, 'PATCH', { title: 'Temp 2', revision: made.post.revision });
    expect(((await patched.json()) as { post: { language: string } }).post.language).toBe('en');
  });
});

describe('translations on the web', () => {
  it('gives the original hreflang alternates to every version and lang="en"; the translation lang="fr"', async () => {
    const o = await page(`/posts/${original.slug}`);
    expect(o.status).toBe(200);
    expect(o.body).toMatch(/<html lang="en"/);
    expect(o.body).toMatch(new RegExp(`<link rel="alternate" hreflang="en" href="[^"]*/posts/${original.slug}"`));
    expect(o.body).toMatch(new RegExp(`<link rel="alternate" hreflang="fr" href="[^"]*/posts/${french.slug}"`));
    expect(o.body).toContain('data-testid="translations"');
    const f = await page(`/posts/${french.slug}`);
    expect(f.body).toMatch(/<html lang="fr"/);
    expect(f.body).toMatch(new RegExp(`<link rel="alternate" hreflang="en" href="[^"]*/posts/${original.slug}"`));
    expect(f.body).toMatch(new RegExp(`<link rel="alternate" hreflang="fr" href="[^"]*/posts/${french.slug}"`));
    // The frame (in the reader's language, the site's English) says so inside a French page.
    expect(f.body).toMatch(/<header class="site-header" lang="en"/);
    // A post without translations has none.
    const plain = await page('/posts/why-we-left-the-algorithm');
    expect(plain.body).not.toContain('hreflang=');
  });

  it('keeps a paid translation gated for an anonymous reader and a free member: page, feed, API', async () => {
    for (const cookie of [undefined, freeCookie]) {
      const f = await page(`/posts/${french.slug}`, cookie);
      expect(f.status).toBe(200);
      expect(f.body).toContain('Nous torréfions le mardi.');
      expect(f.body).toContain('data-testid="paywall"');
      expect(f.body).not.toContain(SECRET);
    }
    const rss = await page('/rss.xml');
    expect(rss.body).toContain('Notes de torréfaction');
    expect(rss.body).not.toContain(SECRET);
    // The posts API is staff's: a member's session opens nothing there.
    const res = await fetch(`${server.url}/api/v1/posts/${french.id}`, { headers: { cookie: freeCookie } });
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(SECRET);
  });
});

describe('the editor’s language block', () => {
  it('shows the post’s language and original, and saves a link or refuses a bad one with its reason', async () => {
    const { Browserless } = await import('../helpers/server.ts');
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    const edit = await (await s.request(`/admin/posts/${french.id}`)).text();
    expect(edit).toContain('data-testid="post-language"');
    expect(edit).toMatch(/<option value="fr" selected>/);
    expect(edit).toMatch(new RegExp(`<option value="${original.id}" selected>`));
    const form = { intent: 'save', title: 'Notas de tueste', markdown: 'Tostamos los martes.', visibility: 'public', status: 'draft' };
    const bad = await s.request('/admin/posts/new', { method: 'POST', form: { ...form, language: 'en', translation_of: original.id } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('already in &quot;en&quot;');
    const good = await s.request('/admin/posts/new', {
      method: 'POST',
      form: { ...form, title: 'Plain English', language: '', translation_of: '' },
    });
    expect(good.status).toBe(303);
    const saved = await t.db
      .selectFrom('posts')
      .select(['language', 'translation_of'])
      .where('title', '=', 'Plain English')
      .executeTakeFirstOrThrow();
    expect(saved).toEqual({ language: null, translation_of: null });
  });
});
