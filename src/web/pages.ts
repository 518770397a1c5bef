import { escapeHtml } from '../../emails/html.ts';
import { translator, type Translator } from '../lib/i18n.ts';
import { readerLocale, type AstroLike } from './locale.ts';

/** English, for the answers of pages that do not say the reader's language (the admin's). */
const ENGLISH = translator('en');

const htmlOpen = (tr: Translator) => `<!doctype html><html lang="${escapeHtml(tr.lang)}" dir="${tr.dir}">`;

/**
 * A small standalone HTML page for answers from endpoints (errors of a form post, the one-click
 * unsubscribe). System fonts, no outside resource. `tr` is the reader's language
 * (web/locale.ts: readerLocale); without it the page is English.
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
  tr?: Translator;
}): Response {
  const tr = options.tr ?? ENGLISH;
  const back = options.backTo
    ? `<p><a href="${escapeHtml(options.backTo.href)}">← ${escapeHtml(options.backTo.label)}</a></p>`
    : options.back
      ? `<p><a href="/join">← ${escapeHtml(tr.t('errors.page.backToJoin'))}</a></p>`
      : '';
  const body = `${htmlOpen(tr)}<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(options.title)}</title></head>
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

/**
 * The page behind an emailed link that changes something (sign in, confirm a new address): the
 * GET shows one button and changes nothing, since mail scanners open every link; the button posts
 * the token back to the same path (a same-origin form, checked by the middleware).
 */
export function buttonPage(options: {
  title: string;
  message: string;
  action: string;
  token: string;
  button: string;
  tr?: Translator;
}): Response {
  const body = `${htmlOpen(options.tr ?? ENGLISH)}<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${escapeHtml(options.title)}</title></head>
<body style="font-family:system-ui,-apple-system,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1c1917">
<h1 style="font-size:1.5rem">${escapeHtml(options.title)}</h1><p>${escapeHtml(options.message)}</p>
<form method="post" action="${escapeHtml(options.action)}"><input type="hidden" name="token" value="${escapeHtml(options.token)}">
<button type="submit" style="font:inherit;font-weight:600;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#1c1917;color:#fff;cursor:pointer">${escapeHtml(options.button)}</button></form></body></html>`;
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
  });
}

/**
 * The site's 404 page. Astro cannot rewrite a request whose body was read (a POST to a row that
 * does not exist), so that one gets a plain 404 page instead of a 500, in the reader's language.
 */
export async function notFound(astro: AstroLike & { rewrite: (path: string) => Promise<Response> }): Promise<Response> {
  if (!astro.request.bodyUsed) return astro.rewrite('/404');
  const tr = await readerLocale(astro);
  return messagePage({ status: 404, title: tr.t('errors.notFound.title'), message: tr.t('errors.notFound.deleted'), tr });
}
