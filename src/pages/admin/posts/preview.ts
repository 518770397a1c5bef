import type { APIRoute } from 'astro';
import { renderMarkdown } from '../../../domain/content/markdown.ts';
import { readFields, EDITOR_FORM_BYTES } from '../../../web/request-data.ts';
import { MAX_MARKDOWN } from '../../../domain/content/editor.ts';

/** The editor's live preview: Markdown in, the same safe HTML a reader gets out. */
export const POST: APIRoute = async ({ request }) => {
  const form = await readFields(request, { maxBytes: EDITOR_FORM_BYTES });
  const markdown = form.get('markdown');
  if (!form.has('markdown') || markdown.length > MAX_MARKDOWN)
    return new Response('Send the Markdown as a form field "markdown".', { status: 400 });
  return new Response(renderMarkdown(markdown), { headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
};
