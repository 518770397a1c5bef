import type { APIRoute } from 'astro';
import { escapeHtml } from '../../emails/html.ts';
import { ANONYMOUS } from '../domain/content/access.ts';
import { listPublished, postForViewer } from '../domain/content/posts.ts';
import { getSiteSettings } from '../domain/site/settings.ts';

/** The public feed: a gated post carries its preview and a link, never the gated text. */
export const GET: APIRoute = async ({ locals }) => {
  const { db, config } = locals.runtime;
  const [site, { posts }] = await Promise.all([getSiteSettings(db), listPublished(db, { limit: 30 })]);
  const items = posts
    .map((p) => {
      const view = postForViewer(p, ANONYMOUS);
      const url = `${config.siteUrl}/posts/${encodeURIComponent(p.slug)}`;
      const body = view.gated
        ? `${view.html}<p><a href="${escapeHtml(url)}">Read the rest on ${escapeHtml(site.title)}</a></p>`
        : view.html;
      return `<item><title>${escapeHtml(p.title)}</title><link>${escapeHtml(url)}</link><guid isPermaLink="true">${escapeHtml(url)}</guid>${
        p.published_at ? `<pubDate>${p.published_at.toUTCString()}</pubDate>` : ''
      }<description>${escapeHtml(view.description)}</description><content:encoded><![CDATA[${body.replace(/]]>/g, ']]]]><![CDATA[>')}]]></content:encoded></item>`;
    })
    .join('');
  const xml = `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>${escapeHtml(site.title)}</title><link>${escapeHtml(config.siteUrl)}</link><description>${escapeHtml(site.description)}</description>${items}</channel></rss>`;
  return new Response(xml, { headers: { 'content-type': 'application/rss+xml; charset=utf-8', 'cache-control': 'public, max-age=300' } });
};
