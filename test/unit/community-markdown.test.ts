import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/lib/errors.ts';
import {
  cleanCommentText,
  commentHasLinks,
  commentToText,
  MAX_COMMENT_LENGTH,
  renderComment,
  validCommentBody,
} from '../../src/domain/community/markdown.ts';

/** The comment renderer against what members may type: everything comes out inert. */
const ALLOWED_TAGS = new Set(['p', 'strong', 'em', 'a', 'ul', 'ol', 'li', 'blockquote', 'code', 'pre', 'br']);

/** Every tag is from the subset, and the only attributes are a link's href and rel, and a list's start. */
function assertInert(html: string): void {
  for (const m of html.matchAll(/<\/?([a-zA-Z0-9-]+)([^>]*)>/g)) {
    const tag = m[1]!.toLowerCase();
    expect(ALLOWED_TAGS.has(tag), `tag <${tag}> in ${html}`).toBe(true);
    const attrs = [...m[2]!.matchAll(/\s([a-zA-Z-]+)="([^"]*)"/g)];
    const rest = m[2]!.replace(/\s([a-zA-Z-]+)="([^"]*)"/g, '').trim();
    expect(rest, `stray attribute text in ${m[0]}`).toBe('');
    for (const [, name, value] of attrs) {
      if (tag === 'a' && name === 'href') expect(value, `href in ${m[0]}`).toMatch(/^(https?:\/\/|mailto:|\/(?!\/))/i);
      else if (tag === 'a' && name === 'rel') expect(value).toBe('nofollow ugc noopener');
      else if (tag === 'ol' && name === 'start') expect(value).toMatch(/^\d+$/);
      else throw new Error(`attribute ${name} on <${tag}> in ${html}`);
    }
  }
  expect(html).not.toMatch(/href="\s*(javascript|vbscript|data|file):/i);
}

const XSS_CORPUS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg/onload=alert(1)>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<a href="javascript:alert(1)">x</a>',
  '[click](javascript:alert(1))',
  '[click](JaVaScRiPt:alert(1))',
  '[click](  javascript:alert(1))',
  '[click](java\tscript:alert(1))',
  '[click](&#106;avascript:alert(1))',
  '[click](javascript&colon;alert(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[click](vbscript:msgbox(1))',
  '[click](file:///etc/passwd)',
  '[click](//evil.example/x)',
  '[click](/\\evil.example)',
  '[x](https://ok.example "t" onmouseover="alert(1)")',
  '[x](https://ok.example"onmouseover="alert(1))',
  '![x](https://evil.example/p.png)',
  '![x](javascript:alert(1))',
  '<https://ok.example/"onmouseover="alert(1)>',
  '<javascript:alert(1)>',
  '`<script>alert(1)</script>`',
  '```html\n<script>alert(1)</script>\n```',
  '```"><script>alert(1)</script>\ncode\n```',
  '> <script>alert(1)</script>',
  '* <b onclick=alert(1)>x</b>',
  '<style>body{display:none}</style>',
  '<form action="https://evil.example"><input name=x></form>',
  '<!-- <script>alert(1)</script> -->',
  '<details open ontoggle=alert(1)>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '&#60;script&#62;alert(1)&#60;/script&#62;',
  '[a]: javascript:alert(1)\n\n[x][a]',
  '# heading\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |',
  'https://ok.example/<script>',
  '**<script>**alert(1)**</script>**',
  '[<img src=x onerror=alert(1)>](https://ok.example)',
  '[x](https://ok.example/\u0000javascript:alert(1))',
  'x\u202Egnp.exe',
  '<a href="https://ok.example" target="_blank" style="position:fixed">x</a>',
  '[x](mailto:a@b.example?subject=<script>)',
  '1. a\n\n\n2. b\n\n30. c',
  '> '.repeat(200) + 'deep',
  '- '.repeat(200) + 'deep',
  '['.repeat(5000) + 'x' + ']'.repeat(5000),
  '*'.repeat(9000),
  '_a '.repeat(3000),
  '`'.repeat(5000),
  '<'.repeat(5000),
];

describe('the comment renderer', () => {
  it('renders the subset: bold, italic, links, lists, quotes, code', () => {
    const html = renderComment(
      '**bold** _italic_ [a link](https://example.com) `code`\n\n> quoted\n\n- one\n- two\n\n1. first\n\n```\nblock\n```',
    );
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<em>italic</em>');
    expect(html).toContain('<a href="https://example.com" rel="nofollow ugc noopener">a link</a>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<blockquote>');
    expect(html).toContain('<ul>\n<li>one</li>');
    expect(html).toContain('<ol>\n<li>first</li>');
    expect(html).toContain('<pre><code>block\n</code></pre>');
  });

  it('autolinks addresses with a scheme, with the same rel; bare domains and emails stay text', () => {
    expect(renderComment('see https://example.com/x')).toContain(
      '<a href="https://example.com/x" rel="nofollow ugc noopener">https://example.com/x</a>',
    );
    expect(renderComment('node.js and me@example.com')).not.toContain('<a');
  });

  it('leaves out headings, images, tables and rules (as text)', () => {
    const html = renderComment('# big\n\n![pic](https://example.com/p.png)\n\n| a |\n|---|\n| b |\n\n***');
    expect(html).not.toMatch(/<h1|<img|<table|<hr/);
    expect(html).toContain('# big');
  });

  // No time bound on a render (a loaded CI machine is no measure): catastrophic backtracking on
  // one of these would hang until the test's limit; speed lives in bench/.
  it.each(XSS_CORPUS.map((x) => [x]))('renders %j inert', (input) => {
    const html = renderComment(input);
    assertInert(html);
    // As tags: the same words escaped as text (&lt;script&gt;) are fine.
    expect(html).not.toMatch(/<(script|img|iframe|svg|style|form|input|details|math)\b/i);
  });

  it('renders any text inert (property)', () => {
    const pieces = fc.constantFrom(
      '<',
      '>',
      '"',
      "'",
      '[',
      ']',
      '(',
      ')',
      '*',
      '_',
      '`',
      '\n',
      ' ',
      '!',
      '#',
      '>',
      '-',
      '1.',
      'javascript:',
      'https://a.example',
      'onerror=',
      '<script>',
      '&#x',
      ';',
      ':',
      '\\',
      '\u202e',
      '\u200b',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(pieces, fc.string({ maxLength: 5 })), { maxLength: 60 }), (parts) => {
        assertInert(renderComment(parts.join('')));
      }),
      { numRuns: 400 },
    );
  });
});

describe('cleaning what members type', () => {
  it('removes zero-width characters, bidi overrides and isolates, control characters, the BOM', () => {
    expect(cleanCommentText('a\u200bb\u200ec\u202ed\u2066e\u2069f\ufeffg\u0007h\u00adi')).toBe('abcdefghi');
  });

  it('keeps emoji sequences and joiners between letters, and newlines', () => {
    expect(cleanCommentText('👨\u200d👩\u200d👧 ok')).toBe('👨\u200d👩\u200d👧 ok');
    expect(cleanCommentText('می\u200cخواهم')).toBe('می\u200cخواهم');
    expect(cleanCommentText('line one\r\nline two')).toBe('line one\nline two');
  });

  it('caps floods of combining marks (Zalgo text)', () => {
    const cleaned = cleanCommentText(`a${'\u0301\u0302\u0303\u0304'.repeat(20)} b`);
    expect([...cleaned.normalize('NFD')].length).toBeLessThanOrEqual(7);
    expect(cleaned.endsWith(' b')).toBe(true);
  });

  it('refuses empty, huge and overlong comments with a clear message', () => {
    expect(() => validCommentBody('  \u200b\u202e ')).toThrow(/Write something/);
    expect(() => validCommentBody('x'.repeat(MAX_COMMENT_LENGTH + 1))).toThrow(ValidationError);
    expect(() => validCommentBody('x'.repeat(MAX_COMMENT_LENGTH + 1))).toThrow(/at most 10,000 characters/);
    expect(() => validCommentBody('x\n'.repeat(400))).toThrow(/at most 300 lines/);
    expect(() => validCommentBody('x'.repeat(10_000_000))).toThrow(ValidationError);
    expect(validCommentBody('  fine  ')).toBe('fine');
  });
});

describe('links and text', () => {
  it('finds links: written, autolinked, and bare domains (spam writes them so)', () => {
    expect(commentHasLinks('[here](https://spam.example)')).toBe(true);
    expect(commentHasLinks('go to https://spam.example now')).toBe(true);
    expect(commentHasLinks('buy at cheap-pills.com today')).toBe(true);
    expect(commentHasLinks('cheap-pills\u200b.com')).toBe(true);
    expect(commentHasLinks('no links here, version 1.2 of file.txt')).toBe(false);
  });

  it('turns a comment into one line of text for emails', () => {
    expect(commentToText('**Hi** <b>there</b>\n\n> quote & "marks"')).toBe('Hi <b>there</b> quote & "marks"');
    expect(commentToText('word '.repeat(100), 20)).toHaveLength(20);
  });
});
