import { describe, expect, it } from 'vitest';
import { ANONYMOUS, callToAction, canRead, type Viewer, type Visibility } from '../../src/domain/content/access.ts';
import { markdownToText, renderMarkdown, splitAtCut } from '../../src/domain/content/markdown.ts';

/** Every real tag of some HTML, with its attribute names and values (escaped text is not a tag). */
function tagsOf(html: string): Array<{ name: string; attrs: Array<[string, string]> }> {
  return [...html.matchAll(/<([a-z][a-z0-9]*)(\s[^>]*)?>/gi)].map((m) => ({
    name: m[1]!.toLowerCase(),
    attrs: [...(m[2] ?? '').matchAll(/\s([^\s=>]+)(?:=("[^"]*"|'[^']*'|[^\s>]+))?/g)].map(
      (a) => [a[1]!.toLowerCase(), (a[2] ?? '').replace(/^["']|["']$/g, '')] as [string, string],
    ),
  }));
}

describe('renderMarkdown: an XSS corpus renders inert', () => {
  const corpus = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<a href="javascript:alert(1)">x</a>',
    '[click](javascript:alert(1))',
    '[click](JaVaScRiPt:alert(1))',
    '[click]( javascript:alert(1))',
    '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[click](vbscript:msgbox(1))',
    '![x](javascript:alert(1))',
    '![x](https://tracker.example/pixel.gif)',
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload=alert(1)>',
    '<style>body{display:none}</style>',
    '"><script>alert(1)</script>',
    '[x](https://example.com "title\\" onmouseover=alert(1) x=\\"")',
    '<details open ontoggle=alert(1)>',
    '`<script>alert(1)</script>`',
    '<!--more--><script>alert(1)</script>',
  ];
  it.each(corpus)('%s', (input) => {
    const tags = tagsOf(renderMarkdown(input));
    for (const tag of tags) {
      expect(['p', 'a', 'img', 'code', 'em', 'strong', 'br']).toContain(tag.name);
      for (const [name, value] of tag.attrs) {
        expect(name).not.toMatch(/^on/);
        if (name === 'href') expect(value).toMatch(/^(https?:\/\/|mailto:|\/|#)/i);
        if (name === 'src') expect(value).toMatch(/^\/(?!\/)/);
      }
    }
  });

  it('keeps ordinary formatting, safe links and same-site images', () => {
    const html = renderMarkdown('**bold** and [a link](https://example.com) and [here](/posts/x)\n\n![beans](/uploads/beans.jpg)');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<a href="https://example.com" rel="noopener">a link</a>');
    expect(html).toContain('<a href="/posts/x">here</a>');
    expect(html).toContain('<img src="/uploads/beans.jpg" alt="beans" loading="lazy">');
  });

  it('shows an outside image as a link, so no reader page loads another origin', () => {
    expect(renderMarkdown('![chart](https://cdn.example.com/c.png)')).toContain(
      '<a href="https://cdn.example.com/c.png" rel="noopener">chart</a>',
    );
  });

  it('gives plain text for descriptions', () => {
    expect(markdownToText('# Title\n\nSome **bold** & <b>raw</b> text.')).toBe('Title Some bold & <b>raw</b> text.');
    expect(markdownToText('word '.repeat(200), 20)).toHaveLength(20);
  });
});

describe('splitAtCut', () => {
  it('splits at a line holding only the marker', () => {
    expect(splitAtCut('Intro para.\n\n<!--more-->\n\nSecret part.')).toEqual({
      preview: 'Intro para.',
      rest: 'Secret part.',
      hasCut: true,
    });
    expect(splitAtCut('Intro\r\n  <!--more-->  \r\nSecret')).toEqual({ preview: 'Intro', rest: 'Secret', hasCut: true });
  });

  it('has no preview without a cut, and ignores a marker inside a line', () => {
    expect(splitAtCut('All of it.')).toEqual({ preview: '', rest: 'All of it.', hasCut: false });
    expect(splitAtCut('text <!--more--> text').hasCut).toBe(false);
  });
});

describe('canRead for every visibility × viewer', () => {
  const viewers: Record<string, Viewer> = {
    anonymous: ANONYMOUS,
    free: { kind: 'member', status: 'active', paid: false, tierId: '1' },
    paid: { kind: 'member', status: 'active', paid: true, tierId: '2' },
    otherTier: { kind: 'member', status: 'active', paid: true, tierId: '3' },
    staff: { kind: 'staff' },
  };
  // A "tiers" post here names tier 2 only.
  const expected: Record<Visibility, Record<string, boolean>> = {
    public: { anonymous: true, free: true, paid: true, otherTier: true, staff: true },
    members: { anonymous: false, free: true, paid: true, otherTier: true, staff: true },
    paid: { anonymous: false, free: false, paid: true, otherTier: true, staff: true },
    tiers: { anonymous: false, free: false, paid: true, otherTier: false, staff: true },
  };
  for (const [visibility, row] of Object.entries(expected) as Array<[Visibility, Record<string, boolean>]>) {
    for (const [who, allowed] of Object.entries(row)) {
      it(`${who} ${allowed ? 'may' : 'may not'} read a ${visibility} post`, () => {
        expect(canRead(viewers[who]!, { visibility, tierIds: ['2'] })).toBe(allowed);
      });
    }
  }

  it('invites anonymous readers to subscribe and free members to upgrade', () => {
    expect(callToAction(ANONYMOUS, { visibility: 'paid' })).toBe('subscribe');
    expect(callToAction(viewers.free!, { visibility: 'paid' })).toBe('upgrade');
    expect(callToAction(viewers.paid!, { visibility: 'paid' })).toBeNull();
  });
});
