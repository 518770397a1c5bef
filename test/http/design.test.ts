import { imageSize } from 'image-size';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPost } from '../../src/domain/content/editor.ts';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Link previews and the brand's design on reader pages, from an empty database: every reader page
 * names an og:image (absolute, with its size when known): a post's feature image, else its first
 * image, else the site's share image, else a plain card in the accent colour.
 */
let t: TestDatabase;
let server: RunningServer;
const FIRST = '/uploads/2026-01/aaaaaaaaaaaaaaaa.png';
const FEATURE = '/uploads/2026-01/ffffffffffffffff.jpg';
const SHARE = '/uploads/2026-01/ssssssssssssssss.png';

beforeAll(async () => {
  t = await createTestDatabase();
  // Sizes as the upload route records them (the files themselves are not needed for the tags).
  await t.db
    .insertInto('image_sizes')
    .values([
      { path: FIRST, width: 800, height: 400 },
      { path: FEATURE, width: 1600, height: 900 },
      { path: SHARE, width: 1200, height: 630 },
    ])
    .execute();
  await createPost(
    t.db,
    { title: 'Plain', markdown: 'No picture here.', visibility: 'public', status: 'published', tags: ['beans'] },
    null,
  );
  await createPost(
    t.db,
    { title: 'Pictured', markdown: `Intro.\n\n![Roaster](${FIRST})`, visibility: 'public', status: 'published' },
    null,
  );
  await createPost(
    t.db,
    { title: 'Featured', markdown: `![Roaster](${FIRST})`, visibility: 'public', status: 'published', featureImage: FEATURE },
    null,
  );
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

const page = async (path: string) => {
  const res = await fetch(server.url + path, { redirect: 'manual' });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
};
const meta = (html: string, property: string) =>
  new RegExp(`<meta property="${property.replace(/:/g, ':')}" content="([^"]*)"`).exec(html)?.[1];

const READER_PAGES = [
  '/',
  '/posts',
  '/posts/plain',
  '/posts/pictured',
  '/posts/featured',
  '/posts/plain/comments',
  '/tags/beans',
  '/join',
  '/join/instagram',
  '/links',
  '/signin',
  '/subscribe/check-inbox',
  '/confirm?token=x',
  '/unsubscribe?token=x',
  '/gift',
  '/stay',
  '/no-such-page',
];

describe('link previews', () => {
  it('every reader page has an absolute og:image', async () => {
    let checked = 0;
    for (const path of READER_PAGES) {
      const { status, body, type } = await page(path);
      if (!type.includes('text/html') || (status >= 300 && status < 400)) continue;
      const image = meta(body, 'og:image');
      expect(image, path).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      checked += 1;
    }
    expect(checked).toBeGreaterThanOrEqual(12);
  });

  it('uses a generated card in the accent colour when the site has no share image or logo', async () => {
    const { body } = await page('/links');
    expect(meta(body, 'og:image')).toBe(`${server.url}/share.png`);
    expect(meta(body, 'og:image:width')).toBe('1200');
    expect(meta(body, 'og:image:height')).toBe('630');
    const png = await fetch(`${server.url}/share.png`);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(imageSize(new Uint8Array(await png.arrayBuffer()))).toMatchObject({ width: 1200, height: 630, type: 'png' });
  });

  it("takes a post's feature image, else its first image, with their sizes", async () => {
    const featured = (await page('/posts/featured')).body;
    expect(meta(featured, 'og:image')).toBe(`${server.url}${FEATURE}`);
    expect(meta(featured, 'og:image:width')).toBe('1600');
    expect(meta(featured, 'og:image:height')).toBe('900');
    const pictured = (await page('/posts/pictured')).body;
    expect(meta(pictured, 'og:image')).toBe(`${server.url}${FIRST}`);
    expect(meta(pictured, 'og:image:width')).toBe('800');
  });

  it("uses the site's share image for pages without their own, and the design's accent and fonts", async () => {
    await saveSiteSettings(t.db, { shareImage: SHARE, accentColor: '#1d4ed8', design: { headingFont: 'trebuchet', linkColor: '#0f766e' } });
    for (const path of ['/join', '/links', '/posts/plain']) {
      // Written here, not through the server: the server hears of it by NOTIFY, and drops the pages
      // it keeps when it does (a loaded machine may first answer from memory).
      const { body } = await waitFor(() => page(path), {
        until: (p) => meta(p.body, 'og:image') === `${server.url}${SHARE}`,
        timeout: 30_000,
        what: `the share image on ${path}`,
      });
      expect(meta(body, 'og:image'), path).toBe(`${server.url}${SHARE}`);
      expect(meta(body, 'og:image:width'), path).toBe('1200');
      expect(body).toContain('--accent:#1d4ed8;--link:#0f766e;');
      expect(body).toContain("--font-heading:'Trebuchet MS'");
    }
  });
});
