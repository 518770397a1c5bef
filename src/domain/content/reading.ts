/**
 * Word count and reading time of a post's Markdown, as the editor shows them. Pure, so the
 * server's first figure and the browser's live one (src/web/client/post-editor.ts) agree.
 * Markup does not count: link targets, image paths, HTML comments, `{{blocks}}` and Markdown's
 * punctuation are dropped before counting.
 */
export const WORDS_PER_MINUTE = 230;

export function readingStats(markdown: string): { words: number; minutes: number } {
  const text = markdown
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/\{\{[^}]*\}\}/g, ' ')
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, ' ')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, ' ')
    .replace(/[#>*_`~|-]+/g, ' ');
  const words = text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
  return { words, minutes: words === 0 ? 0 : Math.max(1, Math.round(words / WORDS_PER_MINUTE)) };
}
