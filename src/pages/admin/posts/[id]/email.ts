import type { APIRoute } from 'astro';
import { personalize } from '../../../../../emails/post.ts';
import { DomainError } from '../../../../lib/errors.ts';
import { pollPreviewLinks, renderPostVariants } from '../../../../domain/content/email.ts';
import { statusFor } from '../../../../web/http.ts';

/** The post as an email (?variant=full|preview), for the editor's preview frame. Sandboxed. */
export const GET: APIRoute = async ({ params, url, locals }) => {
  try {
    const variants = await renderPostVariants(locals.runtime.db, locals.runtime.config.siteUrl, params.id!, {
      uploadsDir: locals.runtime.config.uploadsDir,
    });
    const compiled = url.searchParams.get('variant') === 'preview' ? variants.preview : variants.full;
    if (!compiled) return new Response('Only a paid post has a preview variant.', { status: 404 });
    const email = personalize(compiled, {
      name: 'Ana',
      unsubscribe_url: '#unsubscribe',
      preferences_url: '#preferences',
      referral_url: '#her-own-referral-link',
      ...pollPreviewLinks(compiled, locals.runtime.config.siteUrl),
    });
    return new Response(email.html, {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'",
        'cache-control': 'no-store',
      },
    });
  } catch (err) {
    if (err instanceof DomainError) return new Response(err.message, { status: statusFor(err) });
    throw err;
  }
};
