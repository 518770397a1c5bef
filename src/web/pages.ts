import { escapeHtml } from '../../emails/html.ts';

/**
 * A small standalone HTML page for answers from endpoints (errors of a form post, the one-click
 * unsubscribe). System fonts, no outside resource.
 */
export function messagePage(options: {
  status: number;
  title: string;
  message: string;
  back?: boolean;
  /** A link back to where the reader came from (a local path), instead of the subscribe page. */
  backTo?: { href: string; label: string };
  headers?: Record<string, string>;
  frameable?: boolean;
}): Response {
  const back = options.backTo
    ? `<p><a href="${escapeHtml(options.backTo.href)}">← ${escapeHtml(options.backTo.label)}</a></p>`
    : options.back
      ? '<p><a href="/join">← Back to the subscribe page</a></p>'
      : '';
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(options.title)}</title></head>
<body style="font-family:system-ui,-apple-system,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1c1917">
<h1 style="font-size:1.5rem">${escapeHtml(options.title)}</h1><p role="alert">${escapeHtml(options.message)}</p>${back}</body></html>`;
  return new Response(body, {
    status: options.status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // A plain message, no action on it: harmless inside another site's frame (the embed form).
      ...(options.frameable ? { 'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors *" } : {}),
      ...options.headers,
    },
  });
}
