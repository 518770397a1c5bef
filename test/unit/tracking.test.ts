import fc from 'fast-check';
import { clickToken as signClick, openToken as signOpen } from '../../src/domain/tracking/tokens.ts';
import { describe, expect, it } from 'vitest';
import { agentClass, isMachine } from '../../src/domain/tracking/agents.ts';
import { collectLinks, fillTracked, trackTemplate } from '../../src/domain/tracking/links.ts';
import type { SiteKeys } from '../../src/lib/site-keys.ts';
import { personalize, renderPostEmail } from '../../emails/post.ts';
import { escapeHtml, unescapeHtml } from '../../emails/html.ts';
import { renderMarkdown } from '../../src/domain/content/markdown.ts';
import { clickToken, openToken, readClickToken, readOpenToken } from '../../src/domain/tracking/tokens.ts';

const SECRET = 'a-secret-of-enough-length-for-the-tests';

/** The reference: each personalised email's HTML rewritten directly (what the template path must equal). */
function trackHtml(html: string, links: readonly string[], ref: { sendId: string; memberId: string | null }, ctx: SiteKeys): string {
  const index = new Map(links.map((url, i) => [url, i]));
  // A link repeated in the email (a post linking the same page ten times) signs its token once.
  const tokens = new Map<number, string>();
  const rewritten = html.replace(/href="(https?:\/\/[^"]*)"/g, (whole, raw: string) => {
    const link = index.get(unescapeHtml(raw));
    if (link === undefined) return whole;
    let token = tokens.get(link);
    if (token === undefined) tokens.set(link, (token = signClick(ctx.secret, ref.sendId, ref.memberId, link)));
    return `href="${ctx.siteUrl}/t/c/${token}"`;
  });
  const pixel = `<img src="${ctx.siteUrl}/t/o/${signOpen(ctx.secret, ref.sendId, ref.memberId)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;" />`;
  return rewritten.includes('</body>') ? rewritten.replace('</body>', `${pixel}</body>`) : rewritten + pixel;
}

describe('tracking tokens', () => {
  it('round-trip, and are bound to their purpose and secret', () => {
    expect(readOpenToken(SECRET, openToken(SECRET, '12', '34'))).toEqual({ sendId: '12', memberId: '34' });
    expect(readClickToken(SECRET, clickToken(SECRET, '12', '34', 5))).toEqual({ sendId: '12', memberId: '34', link: 5 });
    expect(readClickToken(SECRET, clickToken(SECRET, '12', null, 0))).toEqual({ sendId: '12', memberId: null, link: 0 });
    expect(readClickToken(SECRET, openToken(SECRET, '12', '34'))).toBeNull();
    expect(readOpenToken(SECRET, clickToken(SECRET, '12', '34', 1))).toBeNull();
    expect(readOpenToken('another-secret-of-enough-length', openToken(SECRET, '12', '34'))).toBeNull();
    expect(readOpenToken(SECRET, 'x'.repeat(500))).toBeNull();
  });

  it('refuse any tampering (property: every changed character)', () => {
    const token = clickToken(SECRET, '7', '42', 3);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: token.length - 1 }),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
        (i, c) => {
          const changed = token.slice(0, i) + c + token.slice(i + 1);
          return (
            changed === token ||
            readClickToken(SECRET, changed) === null ||
            JSON.stringify(readClickToken(SECRET, changed)) === JSON.stringify(readClickToken(SECRET, token))
          );
        },
      ),
    );
    expect(readClickToken(SECRET, token.slice(0, -1))).toBeNull();
  });
});

describe('machine rules', () => {
  it('classes user agents', () => {
    expect(agentClass('Mozilla/5.0')).toBe('apple-mpp');
    expect(agentClass('Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)')).toBe('gmail-proxy');
    expect(agentClass('YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html')).toBe('yahoo-proxy');
    expect(agentClass('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)')).toBe('bot');
    expect(agentClass('curl/8.5.0')).toBe('bot');
    expect(agentClass('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36')).toBe(
      'bot',
    );
    expect(
      agentClass('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15'),
    ).toBe('browser');
    expect(agentClass('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.0')).toBe('mail-client');
    expect(agentClass('')).toBe('unknown');
    expect(agentClass(undefined)).toBe('unknown');
  });

  it('flags privacy-proxy opens, scanners, HEAD requests and bots as machines', () => {
    expect(isMachine({ kind: 'open', method: 'GET', agent: 'apple-mpp' })).toBe(true);
    expect(isMachine({ kind: 'open', method: 'GET', agent: 'gmail-proxy' })).toBe(false);
    expect(isMachine({ kind: 'click', method: 'GET', agent: 'browser', secondsSincePosted: 3 })).toBe(true);
    expect(isMachine({ kind: 'click', method: 'GET', agent: 'browser', secondsSincePosted: 45 })).toBe(false);
    expect(isMachine({ kind: 'click', method: 'GET', agent: 'browser', secondsSincePosted: null })).toBe(false);
    expect(isMachine({ kind: 'click', method: 'HEAD', agent: 'browser', secondsSincePosted: 600 })).toBe(true);
    expect(isMachine({ kind: 'click', method: 'GET', agent: 'bot', secondsSincePosted: 600 })).toBe(true);
    expect(isMachine({ kind: 'open', method: 'GET', agent: 'unknown' })).toBe(true);
  });
});

describe('link rewriting', () => {
  const html =
    '<html><body><a href="https://shop.example.com/?a=1&amp;b=2">Shop</a> <a href="https://shop.example.com/?a=1&amp;b=2">again</a> <a href="mailto:hi@example.com">mail</a> <a href="https://news.example.com/unsubscribe?token=abc">Unsubscribe</a></body></html>';

  it('collects each link once, decoded', () => {
    expect(collectLinks([html])).toEqual(['https://shop.example.com/?a=1&b=2', 'https://news.example.com/unsubscribe?token=abc']);
  });

  it('rewrites only the send’s links, and adds one pixel', () => {
    const template = trackTemplate({ texts: [html], slots: [] }, ['https://shop.example.com/?a=1&b=2'], 'https://news.example.com');
    const out = fillTracked(template, () => '', { sendId: '9', memberId: '3' }, { siteUrl: 'https://news.example.com', secret: SECRET });
    expect(out.match(/\/t\/c\//g)).toHaveLength(2);
    expect(out).toContain('href="mailto:hi@example.com"');
    expect(out).toContain('href="https://news.example.com/unsubscribe?token=abc"');
    expect(out.match(/\/t\/o\//g)).toHaveLength(1);
    expect(out.indexOf('/t/o/')).toBeLessThan(out.indexOf('</body>'));
    expect(out).toBe(
      trackHtml(
        html,
        ['https://shop.example.com/?a=1&b=2'],
        { sendId: '9', memberId: '3' },
        { siteUrl: 'https://news.example.com', secret: SECRET },
      ),
    );
  });
});

describe('tracking the compiled template once per send', () => {
  it('gives exactly what rewriting each personalised email would', () => {
    const brand = { title: 'Field Notes', accentColor: '#b45309', siteUrl: 'https://news.example.com' };
    const markdown =
      'See [the shop](https://shop.example.com/?a=1&b=2), [it again](https://shop.example.com/?a=1&b=2), [mail](mailto:x@example.com) and [a post](/posts/other).\n\n{{referral}}';
    const compiled = renderPostEmail({
      brand,
      title: 'T',
      url: 'https://news.example.com/posts/t',
      bodyHtml: renderMarkdown(markdown),
      cut: false,
      upgradeUrl: 'https://news.example.com/join',
    });
    const links = collectLinks(compiled.html.texts);
    expect(links).toContain('https://shop.example.com/?a=1&b=2');
    const template = trackTemplate(compiled.html, links, brand.siteUrl);
    const ctx = { siteUrl: brand.siteUrl, secret: SECRET };
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1e9 }), fc.boolean(), (name, member, named) => {
        const values = {
          name,
          unsubscribe_url: 'https://news.example.com/unsubscribe?token=a&b',
          preferences_url: 'https://news.example.com/unsubscribe?token=a&b',
          referral_url: 'https://news.example.com/r/abc',
        };
        const ref = { sendId: '5', memberId: named ? String(member) : null };
        const slow = trackHtml(personalize(compiled, values).html, links, ref, ctx);
        const fast = fillTracked(template, (slot) => escapeHtml(values[slot as keyof typeof values] ?? ''), ref, ctx);
        return slow === fast;
      }),
      { numRuns: 50 },
    );
  });
});
