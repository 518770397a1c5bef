import { unescapeHtml } from '../../../emails/html.ts';
import MarkdownIt from 'markdown-it';

/**
 * Posts are written in Markdown and rendered to HTML that is safe to serve as is:
 * - raw HTML in the Markdown is escaped, never passed through (`html: false`);
 * - links may only be http(s), mailto, or paths on this site: `javascript:`, `data:` and the
 *   like are dropped (markdown-it's validateLink, tightened);
 * - images may only come from this site (a path such as /uploads/…): a reader's page loads nothing
 *   from another origin, so an outside image is shown as a link instead.
 * Rendering is a pure function of the Markdown.
 */
export const PREVIEW_CUT = '<!--more-->';

const md = new MarkdownIt({ html: false, linkify: true, typographer: true });

const SAFE_LINK = /^(https?:\/\/|mailto:|\/(?!\/)|#)/i;
md.validateLink = (url: string) => SAFE_LINK.test(url.trim());

const defaultImage = md.renderer.rules.image!;
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const token = tokens[idx]!;
  const src = String(token.attrGet('src') ?? '');
  if (!/^\/(?!\/)/.test(src)) {
    const alt = String(self.renderInlineAsText(token.children ?? [], options, env) || src);
    return `<a href="${md.utils.escapeHtml(src)}" rel="noopener">${md.utils.escapeHtml(alt)}</a>`;
  }
  token.attrSet('loading', 'lazy');
  return defaultImage(tokens, idx, options, env, self);
};

const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const href = String(tokens[idx]!.attrGet('href') ?? '');
  if (/^https?:\/\//i.test(href)) tokens[idx]!.attrSet('rel', 'noopener');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

export function renderMarkdown(markdown: string): string {
  return md.render(markdown);
}

/** Plain text of some Markdown (for descriptions and feeds), collapsed to one line. */
export function markdownToText(markdown: string, maxLength = 300): string {
  return htmlToLine(md.render(markdown), maxLength);
}

/** Rendered HTML as one line of plain text, cut at `maxLength` with an ellipsis. */
export function htmlToLine(html: string, maxLength: number): string {
  const text = unescapeHtml(html.replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > maxLength ? `${text.slice(0, maxLength - 1).trimEnd()}…` : text;
}

export interface SplitPost {
  /** What stands above the cut: the public preview of a gated post. */
  preview: string;
  /** What stands below it (empty when there is no cut). */
  rest: string;
  hasCut: boolean;
}

/**
 * Splits a post at the preview cut: a line holding only `<!--more-->` (the WordPress/Hugo
 * convention). Without a cut, a gated post's preview is empty: nothing of it is public.
 */
export function splitAtCut(markdown: string): SplitPost {
  const lines = markdown.split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim() === PREVIEW_CUT);
  if (at === -1) return { preview: '', rest: markdown, hasCut: false };
  return {
    preview: lines.slice(0, at).join('\n').trimEnd(),
    rest: lines
      .slice(at + 1)
      .join('\n')
      .trimStart(),
    hasCut: true,
  };
}
