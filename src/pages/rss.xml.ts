import type { APIRoute } from 'astro';
import { escapeHtml } from '../../emails/html.ts';
import { ANONYMOUS } from '../domain/content/access.ts';
import { listPublished, postForViewer } from '../domain/content/posts.ts';
import { getSiteSettings } from '../domain/site/settings.ts';
import { absoluteUrls } from '../lib/absolute-urls.ts';

/**
 * The public feed: a gated post carries its preview and a link, never the gated text. Every address
 * in it is absolute (readers fetch it away from the site) and it names itself (`atom:link rel=self`).
 */
export const GET: APIRoute = async ({ locals }) => {
  const { db, config } = locals.runtime;
  const [site, { posts }] = await Promise.all([getSiteSettings(db), listPublished(db, { limit: 30 })]);
  const items = posts
    .map((p) => {
      const view = postForViewer(p, ANONYMOUS);
      const url = `${config.siteUrl}/posts/${encodeURIComponent(p.slug)}`;
      const html = absoluteUrls(view.html, config.siteUrl);
      const body = view.gated ? `${html}<p><a href="${escapeHtml(url)}">Read the rest on ${escapeHtml(site.title)}</a></p>` : html;
      return `<item><title>${escapeHtml(p.title)}</title><link>${escapeHtml(url)}</link><guid isPermaLink="true">${escapeHtml(url)}</guid>${
        p.published_at ? `<pubDate>${p.published_at.toUTCString()}</pubDate>` : ''
      }<description>${escapeHtml(view.description)}</description><content:encoded><![CDATA[${body.replace(/]]>/g, ']]]]><![CDATA[>')}]]></content:encoded></item>`;
    })
    .join('');
  const xml = `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>${escapeHtml(site.title)}</title><link>${escapeHtml(config.siteUrl)}</link><atom:link href="${escapeHtml(`${config.siteUrl}/rss.xml`)}" rel="self" type="application/rss+xml"/><description>${escapeHtml(site.description)}</description><language>en</language>${items}</channel></rss>`;
  return new Response(xml, { headers: { 'content-type': 'application/rss+xml; charset=utf-8', 'cache-control': 'public, max-age=300' } });
};
