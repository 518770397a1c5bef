import type { APIRoute } from 'astro';
import { escapeHtml } from '../../emails/html.ts';
import { listPublished } from '../domain/content/posts.ts';

/** Pages and published posts (addresses only: a gated post's text is not in a sitemap). */
export const GET: APIRoute = async ({ locals }) => {
  const { db, config } = locals.runtime;
  const urls: Array<{ loc: string; lastmod?: string }> = [
    { loc: `${config.siteUrl}/` },
    { loc: `${config.siteUrl}/posts` },
    { loc: `${config.siteUrl}/join` },
  ];
  let after: string | undefined;
  do {
    const page = await listPublished(db, { limit: 500, after });
    for (const p of page.posts)
      urls.push({ loc: `${config.siteUrl}/posts/${encodeURIComponent(p.slug)}`, lastmod: p.updated_at.toISOString() });
    after = page.next ?? undefined;
  } while (after && urls.length < 50_000);
  const body = urls.map((u) => `<url><loc>${escapeHtml(u.loc)}</loc>${u.lastmod ? `<lastmod>${u.lastmod}</lastmod>` : ''}</url>`).join('');
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${body}</urlset>`,
    {
      headers: { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'public, max-age=3600' },
    },
  );
};
