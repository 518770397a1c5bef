import type { APIRoute } from 'astro';
import { findOutboxEmail } from '../../../../lib/mailer/outbox.ts';
import { isId } from '../../../../lib/ids.ts';

/**
 * The raw HTML of an outbox email, for the preview iframe. Sandboxed by CSP (no script, no
 * same-origin rights), framable only by our own admin page. Images only from /uploads/: a sent
 * email's open pixel must not count staff reading the outbox as the member opening it.
 */
export const GET: APIRoute = async ({ params, locals }) => {
  const id = params.id ?? '';
  const email = isId(id) ? await findOutboxEmail(locals.runtime.db, id) : undefined;
  if (!email?.html) return new Response('Not found', { status: 404 });
  return new Response(email.html, {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `sandbox; default-src 'none'; img-src ${locals.runtime.config.siteUrl}/uploads/ data:; style-src 'unsafe-inline'; frame-ancestors 'self'`,
      'cache-control': 'no-store',
    },
  });
};
