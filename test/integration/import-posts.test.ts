import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANONYMOUS } from '../../src/domain/content/access.ts';
import { findPublishedPost, postForViewer } from '../../src/domain/content/posts.ts';
import { findImportedRedirect, importPosts } from '../../src/domain/imports/posts/import.ts';
import { ValidationError } from '../../src/lib/errors.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { substackZip } from '../helpers/post-exports.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/imports/posts');
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

let t: TestDatabase;
let uploads: string;
beforeAll(async () => {
  t = await createTestDatabase();
  uploads = await mkdtemp(join(tmpdir(), 'hearth-post-import-'));
  await t.db.insertInto('tiers').values({ slug: 'gold', name: 'Gold', paid: true, monthly_amount: 800, currency: 'usd' }).execute();
  await t.db.insertInto('staff_users').values({ email: 'ada@roastery.example', password_hash: 'x', role: 'editor', name: 'Ada' }).execute();
});
afterAll(async () => {
  await t.drop();
  await rm(uploads, { recursive: true, force: true });
});

const counts = async () => ({
  posts: Number(
    (
      await t.db
        .selectFrom('posts')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  ),
  redirects: Number(
    (
      await t.db
        .selectFrom('post_redirects')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  ),
});

describe('Ghost JSON export', () => {
  it('imports posts and pages with slugs, tags, author, dates, images and gating; sends nothing', async () => {
    const json = await readFile(join(FIXTURES, 'ghost-export.json'));
    const zip = zipSync({ 'roastery.ghost.2024-11-28.json': json, 'content/images/2024/05/roaster.png': PNG });
    const report = await importPosts(t.db, uploads, zip);
    expect(report.format).toBe('ghost');
    expect(report.created.map((p) => p.slug).sort()).toEqual(
      ['about', 'gold-tasting-notes', 'members-brew-guide', 'roast-curves', 'welcome', 'winter-blend'].sort(),
    );
    expect(report.skipped).toEqual([]);
    expect(report.imagesCopied).toBe(1);
    expect(report.imagesExternal.map((i) => i.url).sort()).toEqual([
      'https://cdn.example.net/brew.jpg',
      'https://images.unsplash.com/photo-1509042239860-f550ce710b93',
    ]);

    const welcome = await t.db.selectFrom('posts').selectAll().where('slug', '=', 'welcome').executeTakeFirstOrThrow();
    expect(welcome.title).toBe('Welcome to the Roastery Notes');
    expect(welcome.tags).toEqual(['roasting']); // the internal #hero tag is not a reader's tag
    expect(welcome.published_at?.toISOString()).toBe('2024-05-02T08:30:00.000Z');
    expect(welcome.status).toBe('published');
    expect(welcome.excerpt).toBe('Who we are and what we roast.');
    expect(welcome.feature_image).toMatch(/^\/uploads\/\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.png$/);
    expect(welcome.markdown).toContain('**Tuesdays**');
    expect(welcome.markdown).toContain('[the brew guide](/members-brew-guide/)');
    expect(welcome.markdown).toContain(`![The roaster](${welcome.feature_image})`);
    expect(welcome.markdown).toContain('## What is next');
    const author = await t.db.selectFrom('staff_users').select('id').where('email', '=', 'ada@roastery.example').executeTakeFirstOrThrow();
    expect(welcome.author_id).toBe(author.id);

    const guide = await t.db.selectFrom('posts').selectAll().where('slug', '=', 'members-brew-guide').executeTakeFirstOrThrow();
    expect(guide.visibility).toBe('members');
    expect(guide.feature_image).toBeNull();
    expect(guide.markdown).toMatch(/opening paragraph\.\n+<!--more-->\n+Grind 18 g/);
    expect(
      (await t.db.selectFrom('posts').select('visibility').where('slug', '=', 'roast-curves').executeTakeFirstOrThrow()).visibility,
    ).toBe('paid');
    const gold = await t.db
      .selectFrom('posts')
      .select(['visibility', 'tier_ids'])
      .where('slug', '=', 'gold-tasting-notes')
      .executeTakeFirstOrThrow();
    const goldTier = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'gold').executeTakeFirstOrThrow();
    expect(gold).toEqual({ visibility: 'tiers', tier_ids: [goldTier.id] });
    const about = await t.db.selectFrom('posts').select(['tags']).where('slug', '=', 'about').executeTakeFirstOrThrow();
    expect(about.tags).toEqual(['page']);
    expect((await t.db.selectFrom('posts').select('status').where('slug', '=', 'winter-blend').executeTakeFirstOrThrow()).status).toBe(
      'draft',
    );

    // An anonymous reader gets the preview only.
    for (const [slug, secret] of [
      ['members-brew-guide', 'secret members ratio'],
      ['roast-curves', 'paid secret'],
      ['gold-tasting-notes', 'Gold tier secret'],
    ] as const) {
      const view = postForViewer((await findPublishedPost(t.db, slug))!, ANONYMOUS);
      expect(view.gated).toBe(true);
      expect(JSON.stringify(view)).not.toContain(secret);
    }
    expect(postForViewer((await findPublishedPost(t.db, 'members-brew-guide'))!, ANONYMOUS).html).toContain('opening paragraph');

    expect(await findImportedRedirect(t.db, '/welcome/')).toBe('welcome');
    expect(await findImportedRedirect(t.db, '/welcome')).toBe('welcome');
    // No send, no outbox row: an import never mails anyone.
    expect(await t.db.selectFrom('sends').select('id').execute()).toEqual([]);
    expect(await t.db.selectFrom('outbox').select('id').execute()).toEqual([]);
  });

  it('updates on re-import instead of duplicating', async () => {
    const before = await counts();
    const json = JSON.parse(await readFile(join(FIXTURES, 'ghost-export.json'), 'utf8'));
    json.db[0].data.posts[0].title = 'Welcome, renamed at the source';
    const report = await importPosts(t.db, uploads, Buffer.from(JSON.stringify(json)));
    expect(report.created).toEqual([]);
    expect(report.updated).toHaveLength(6);
    expect(await counts()).toEqual(before);
    const welcome = await t.db.selectFrom('posts').select(['title', 'revision']).where('slug', '=', 'welcome').executeTakeFirstOrThrow();
    expect(welcome).toEqual({ title: 'Welcome, renamed at the source', revision: 2 });
  });
});

describe('Substack export archive', () => {
  it('imports posts.csv with its HTML files as Markdown, gated by audience, with /p/<slug> redirects', async () => {
    const report = await importPosts(t.db, uploads, await substackZip({ 'posts/images/map.png': PNG }), 'substack');
    expect(report.format).toBe('substack');
    expect(report.created.map((p) => p.slug).sort()).toEqual(
      ['free-members-map', 'hello-from-the-roastery', 'subscribers-only-cupping', 'untitled-draft'].sort(),
    );
    expect(report.skipped).toEqual([{ source: '141000002.lost-file', reason: 'posts/141000002.lost-file.html is not in the archive' }]);
    expect(report.imagesExternal).toEqual([
      { slug: 'hello-from-the-roastery', url: 'https://substack-post-media.s3.amazonaws.com/public/images/abc.jpeg' },
    ]);
    expect(report.imagesCopied).toBe(1);

    const hello = await t.db.selectFrom('posts').selectAll().where('slug', '=', 'hello-from-the-roastery').executeTakeFirstOrThrow();
    expect(hello.markdown).toContain('Welcome to our *first* letter.');
    expect(hello.markdown).toContain('### This week');
    expect(hello.markdown).toContain('> Coffee is a plant.');
    expect(hello.markdown).not.toContain('Subscribe to get new posts');
    expect(hello.excerpt).toBe('Our first letter');
    expect(hello.published_at?.toISOString()).toBe('2023-11-20T14:00:00.000Z');
    expect(hello.visibility).toBe('public');
    const map = await t.db.selectFrom('posts').selectAll().where('slug', '=', 'free-members-map').executeTakeFirstOrThrow();
    expect(map.visibility).toBe('members');
    expect(map.markdown).not.toContain('alert(1)');
    expect(map.markdown).toMatch(/!\[Map\]\(\/uploads\/\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.png\)/);
    expect(
      (await t.db.selectFrom('posts').select('visibility').where('slug', '=', 'subscribers-only-cupping').executeTakeFirstOrThrow())
        .visibility,
    ).toBe('paid');
    const cupping = postForViewer((await findPublishedPost(t.db, 'subscribers-only-cupping'))!, ANONYMOUS);
    expect(cupping.html).toContain('This week we cupped six coffees.');
    expect(JSON.stringify(cupping)).not.toContain('paid secret');
    expect((await t.db.selectFrom('posts').select('status').where('slug', '=', 'untitled-draft').executeTakeFirstOrThrow()).status).toBe(
      'draft',
    );
    expect(await findImportedRedirect(t.db, '/p/hello-from-the-roastery')).toBe('hello-from-the-roastery');

    const before = await counts();
    const again = await importPosts(t.db, uploads, await substackZip());
    expect(again.created).toEqual([]);
    expect(again.updated).toHaveLength(4);
    expect(await counts()).toEqual(before);
  });
});

describe('bad files write nothing', () => {
  it.each([
    ['not JSON', Buffer.from('hello, this is not an export'), /neither JSON/],
    ['JSON of another shape', Buffer.from('{"members":[]}'), /not a Ghost content export/],
    ['a zip with a ../ entry', zipSync({ 'posts.csv': strToU8('post_id\n'), '../evil.html': strToU8('x') }), /outside its folder/],
    ['a zip that is neither', zipSync({ 'notes.txt': strToU8('x') }), /neither a Ghost export/],
    ['a Substack zip without posts.csv columns', zipSync({ 'posts.csv': strToU8('id,name\n1,x\n') }), /lacks the column/],
    ['a broken zip', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100)]), /not a readable zip/],
    ['an oversized file', Buffer.alloc(100 * 1024 * 1024 + 1, 0x20), /larger than 100 MiB/],
  ])('%s', async (_name, bytes, message) => {
    const before = await counts();
    const error = await importPosts(t.db, uploads, bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(message);
    expect(await counts()).toEqual(before);
  });
});
