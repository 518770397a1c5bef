import MarkdownIt from 'markdown-it';
import { htmlToLine } from '../content/markdown.ts';
import { ValidationError } from '../../lib/errors.ts';

/**
 * Comments are written in a small Markdown subset and rendered to HTML that is inert whatever
 * a member types. Much stricter than the posts' renderer (content/markdown.ts):
 * - only bold, italic, links, lists, quotes, inline code and code blocks, and line breaks;
 *   no headings, images, tables, rules, reference links or raw HTML (`html: false`: it shows as text);
 * - links are http(s), mailto or this site's paths, and always `rel="nofollow ugc noopener"`;
 * - code blocks carry no language class; nesting stops at 20 levels.
 * The text itself is cleaned before it is stored (`cleanCommentText`): invisible formatting
 * characters (zero-width, bidi overrides), control characters and combining-mark floods go.
 */
export const MAX_COMMENT_LENGTH = 10_000;
export const MAX_COMMENT_LINES = 300;

const md = new MarkdownIt('zero', { html: false, linkify: true, breaks: true, maxNesting: 20 });
md.enable(['blockquote', 'code', 'fence', 'list']);
md.enable(['autolink', 'backticks', 'emphasis', 'entity', 'escape', 'link', 'newline', 'linkify']);
// Only addresses with a scheme become links: "node.js" or "me@example.com" stay text.
md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
// The hold check also counts a bare domain ("cheap-pills.example") as a link: spam writes them so.
const bareDomains = new MarkdownIt('zero', { linkify: true }).linkify.set({ fuzzyLink: true, fuzzyEmail: false });

const SAFE_LINK = /^(https?:\/\/|mailto:|\/(?!\/))/i;
md.validateLink = (url: string) => SAFE_LINK.test(url.trim()) && !/[\u0000-\u001f\u007f\\]/.test(url);

md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  const token = tokens[idx]!;
  const href = String(token.attrGet('href') ?? '');
  token.attrs = [
    ['href', href],
    ['rel', 'nofollow ugc noopener'],
  ];
  return self.renderToken(tokens, idx, options);
};

// A fence's info string would become a class name: drop it.
md.renderer.rules.fence = (tokens, idx) => `<pre><code>${md.utils.escapeHtml(tokens[idx]!.content)}</code></pre>\n`;

/**
 * Invisible formatting characters (Unicode category Cf: zero-width spaces, bidi embeddings,
 * overrides and isolates, word joiners, the BOM, tag characters…) are removed, except a
 * zero-width joiner inside an emoji sequence and a zero-width non-joiner between letters, which
 * are part of writing. Control characters other than newline and tab go too.
 */
const FORMAT = /\p{Cf}/u;
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
const MARK_FLOOD = /(\p{M}{3})\p{M}+/gu;

export function cleanCommentText(raw: string): string {
  const text = raw.normalize('NFC').replace(/\r\n?/g, '\n');
  let out = '';
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (
      c === '\u200d' &&
      /\p{Extended_Pictographic}/u.test(chars[i + 1] ?? '') &&
      /[\p{Extended_Pictographic}\ufe0f\p{Emoji_Modifier}]/u.test(chars[i - 1] ?? '')
    ) {
      out += c;
      continue;
    }
    if (c === '\u200c' && /\p{L}/u.test(chars[i - 1] ?? '') && /\p{L}/u.test(chars[i + 1] ?? '')) {
      out += c;
      continue;
    }
    if (FORMAT.test(c)) continue;
    out += c;
  }
  return out
    .replace(CONTROL, '')
    .replace(MARK_FLOOD, '$1')
    .replace(/[ \t]+$/gm, '')
    .trim();
}

/** Cleans a comment and checks its size; the message says what to change. */
export function validCommentBody(raw: string): string {
  if (raw.length > MAX_COMMENT_LENGTH * 2) throw tooLong();
  const body = cleanCommentText(raw);
  if (body.length === 0) throw new ValidationError('Write something before posting.', 'empty_comment');
  if (body.length > MAX_COMMENT_LENGTH) throw tooLong();
  if (body.split('\n').length > MAX_COMMENT_LINES)
    throw new ValidationError(`A comment may have at most ${MAX_COMMENT_LINES} lines.`, 'too_many_lines');
  return body;
}

function tooLong(): ValidationError {
  return new ValidationError(
    `A comment may be at most ${MAX_COMMENT_LENGTH.toLocaleString('en')} characters. Shorten it, or split it in two.`,
    'comment_too_long',
  );
}

/** The comment as HTML: only the tags of the subset, every attribute fixed by this renderer. */
export function renderComment(body: string): string {
  return md.render(cleanCommentText(body));
}

/** True when the comment has a link: written, autolinked, or a bare domain such as "example.com". */
export function commentHasLinks(body: string): boolean {
  const text = cleanCommentText(body);
  const visit = (tokens: ReturnType<typeof md.parse>): boolean =>
    tokens.some((t) => t.type === 'link_open' || (t.children !== null && visit(t.children)));
  return visit(md.parse(text, {})) || bareDomains.test(text);
}

/** Plain text of a comment, collapsed to one line (for emails and the admin's lists). */
export function commentToText(body: string, maxLength = 280): string {
  return htmlToLine(renderComment(body), maxLength);
}
