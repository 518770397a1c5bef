import { clickToken, openToken } from './tokens.ts';

/**
 * A send's links: collected once when the send is prepared (every http(s) href of its rendered
 * variants, in order, each once) and rewritten per email to the click redirect. The preferences
 * and unsubscribe links are filled in per member after this (they are slots, not links of the
 * post), so they are never tracked and never counted as engagement.
 */
const HREF = /href="(https?:\/\/[^"]*)"/g;

const decode = (raw: string) => raw.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The distinct link URLs of some HTML, in order of first appearance. */
export function collectLinks(htmls: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const html of htmls) for (const m of html.matchAll(HREF)) seen.add(decode(m[1]!));
  return [...seen];
}

export interface TrackingContext {
  siteUrl: string;
  secret: string;
}

/** The email's HTML with its links through /t/c/ and an open pixel; pure and deterministic. */
export function trackHtml(html: string, links: readonly string[], ref: { sendId: string; memberId: string | null }, ctx: TrackingContext): string {
  const index = new Map(links.map((url, i) => [url, i]));
  const rewritten = html.replace(HREF, (whole, raw: string) => {
    const link = index.get(decode(raw));
    return link === undefined ? whole : `href="${ctx.siteUrl}/t/c/${clickToken(ctx.secret, ref.sendId, ref.memberId, link)}"`;
  });
  const pixel = `<img src="${ctx.siteUrl}/t/o/${openToken(ctx.secret, ref.sendId, ref.memberId)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;" />`;
  return rewritten.includes('</body>') ? rewritten.replace('</body>', `${pixel}</body>`) : rewritten + pixel;
}
