import TurndownService from 'turndown';
import { PREVIEW_CUT } from '../../content/markdown.ts';

/**
 * HTML bodies from Ghost and Substack become Markdown (Hearth's posts are Markdown, rendered with
 * raw HTML escaped), with turndown. What Markdown cannot carry is dropped (scripts, styles,
 * embeds' frames); Ghost's paywall card (`<!--members-only-->`) becomes Hearth's preview cut, so
 * a gated post shows the same public preview as before. Images are collected: the caller copies
 * those it has and rewrites their addresses (see `rewriteImages`).
 */
const CUT_MARK = 'HEARTHPREVIEWCUT7f3a';

const turndown = new TurndownService({
  headingStyle: 'atx',
  codeBlockStyle: 'fenced',
  bulletListMarker: '-',
  emDelimiter: '*',
  hr: '---',
});
turndown.remove([
  'script',
  'style',
  'iframe',
  'noscript',
  'form',
  'button',
  'input',
  'select',
  'textarea',
  'template',
  'svg' as 'template',
]);
// Substack's subscribe and share widgets are not content.
turndown.addRule('widgets', {
  filter: (node) =>
    /\b(subscription-widget-wrap|subscribe-widget|share-dialog|button-wrapper|captioned-button-wrap|image-link-expand|paywall-jump)\b/.test(
      node.getAttribute?.('class') ?? '',
    ),
  replacement: () => '',
});

export interface Converted {
  markdown: string;
  /** Every image address in the body, in order (as written in the HTML). */
  images: string[];
}

export function htmlToMarkdown(html: string, options: { cutMarker?: RegExp } = {}): Converted {
  let source = html;
  if (options.cutMarker) source = source.replace(options.cutMarker, `<p>${CUT_MARK}</p>`);
  let markdown = turndown.turndown(source);
  markdown = markdown.replace(new RegExp(`^\\s*${CUT_MARK}\\s*$`, 'm'), PREVIEW_CUT).replaceAll(CUT_MARK, '');
  const images: string[] = [];
  for (const m of markdown.matchAll(/!\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) images.push(m[1]!);
  return { markdown: markdown.trim() + '\n', images };
}

/** Replaces image addresses in the Markdown (only inside image syntax). */
export function rewriteImages(markdown: string, replace: (src: string) => string): string {
  return markdown.replace(/(!\[[^\]]*\]\()([^)\s]+)((?:\s+"[^"]*")?\))/g, (_all, open: string, src: string, close: string) => {
    return `${open}${replace(src)}${close}`;
  });
}
