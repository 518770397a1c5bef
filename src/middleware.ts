import { defineMiddleware } from 'astro:middleware';
import { findImportedRedirect } from './domain/imports/posts/redirects.ts';
import { staffFromApiToken } from './domain/staff/api-tokens.ts';
import { SESSION_COOKIE } from './domain/staff/sessions.ts';
import { hasAnyStaff } from './domain/staff/users.ts';
import { allowed, decideRoute, isStaffPath } from './web/guard.ts';
import { jsonError } from './web/http.ts';
import { signedInStaff } from './web/identity.ts';
import { clearStaffSessionCookie } from './web/session-cookie.ts';
import { getRuntime } from './lib/runtime.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { getSiteSettings } from './domain/site/settings.ts';
import { translator } from './lib/i18n.ts';
import { siteTranslator } from './web/locale.ts';
import { messagePage } from './web/pages.ts';
import { invalidatingAfterWrites, withPageCache } from './web/page-cache.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Reader and admin pages load nothing from another origin; this policy makes a mistake
 * (a CDN font, an analytics snippet) fail loudly in the browser instead of leaking readers.
 */
const CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "frame-src 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

function withSecurityHeaders(original: Response): Response {
  let response = original;
  try {
    response.headers.set('x-content-type-options', 'nosniff');
  } catch {
    // Response.redirect() and fetch() answers have immutable headers: copy into a mutable one.
    response = new Response(original.body, original);
  }
  const h = response.headers;
  if (!h.has('content-security-policy')) h.set('content-security-policy', CSP);
  if (!h.has('x-frame-options') && !/frame-ancestors 'self'/.test(h.get('content-security-policy') ?? '')) h.set('x-frame-options', 'DENY');
  h.set('x-content-type-options', 'nosniff');
  h.set('referrer-policy', 'strict-origin-when-cross-origin');
  return response;
}

/**
 * A state-changing request made with cookies must come from our own pages. Browsers send
 * Origin (or at least Referer and Sec-Fetch-Site) on every POST; a request with none of them
 * is not a browser's, so no cookie of a victim rides on it.
 */
function allowedOrigins(siteUrl: string): Set<string> {
  const site = new URL(siteUrl);
  const origins = new Set([site.origin]);
  // A local trial is reached as localhost, 127.0.0.1 or [::1] alike.
  if (['localhost', '127.0.0.1', '[::1]'].includes(site.hostname)) {
    for (const host of ['localhost', '127.0.0.1', '[::1]']) origins.add(`${site.protocol}//${host}${site.port ? `:${site.port}` : ''}`);
  }
  return origins;
}

/**
 * Only SITE_URL's origin counts as ours, not the request's own Host: a DNS-rebinding page
 * (rebind.evil resolving to this server) sends a Host and an Origin that agree with each other.
 */
function sameOrigin(request: Request, siteUrl: string): boolean {
  const allowed = allowedOrigins(siteUrl);
  const origin = request.headers.get('origin');
  if (origin && origin !== 'null') return allowed.has(origin);
  if (origin === 'null') return false;
  if (request.headers.get('sec-fetch-site') === 'cross-site') return false;
  const referer = request.headers.get('referer');
  if (referer) {
    try {
      return allowed.has(new URL(referer).origin);
    } catch {
      return false;
    }
  }
  return true;
}

function wantsJson(pathname: string): boolean {
  return pathname.startsWith('/api/');
}

/** A reader's form refused as cross-origin (a stale tab, another site's form): in the site's language. */
async function crossOriginReaderPage(db: Kysely<Database>): Promise<Response> {
  const site = await getSiteSettings(db).catch(() => undefined);
  const tr = site ? siteTranslator(site) : translator('en');
  return messagePage({
    status: 403,
    title: tr.t('errors.crossOrigin.title'),
    message: tr.t('errors.crossOrigin.message'),
    backTo: { href: '/', label: tr.t('errors.crossOrigin.back') },
    tr,
  });
}

function htmlError(status: number, title: string, message: string): Response {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body style="font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem"><h1>${title}</h1><p>${message}</p><p><a href="/admin">Back to the admin</a></p></body></html>`;
  return new Response(body, { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
}

export const onRequest = defineMiddleware(async (context, render) => {
  const runtime = getRuntime();
  context.locals.runtime = runtime;
  const { request, url } = context;
  const method = request.method.toUpperCase();
  const pathname = url.pathname;
  const next = invalidatingAfterWrites(method, pathname, render);
  const isApi = pathname.startsWith('/api/');

  // Exempt from the origin check: bearer-token API calls (no cookie), signed webhooks, the public
  // subscribe endpoint (posted to by embedded forms and snippets on the brand's other sites), and
  // the one-click unsubscribes (posted by mailbox providers; their signed token is the credential).
  const crossOriginAllowed =
    isApi ||
    pathname.startsWith('/webhooks/') ||
    // Fediverse inboxes: servers post signed activities (Fedify checks each signature).
    pathname.startsWith('/ap/') ||
    pathname === '/subscribe' ||
    pathname === '/unsubscribe' ||
    pathname === '/conversation/unsubscribe';
  if (!SAFE_METHODS.has(method) && !crossOriginAllowed && !sameOrigin(request, runtime.config.siteUrl)) {
    return withSecurityHeaders(
      wantsJson(pathname)
        ? jsonError(403, 'cross_origin', 'Cross-origin requests are not allowed here.')
        : isStaffPath(pathname)
          ? htmlError(403, 'Request refused', 'This form was sent from another site. Go back to the page and try again.')
          : await crossOriginReaderPage(runtime.db),
    );
  }

  // Reader pages: the same page for every anonymous reader comes from memory (web/page-cache.ts).
  if (!isStaffPath(pathname)) {
    return withPageCache(request, url, context.locals, async () => {
      const response = await next();
      // An imported post's old address (Substack's /p/<slug>, Ghost's /<slug>/): one primary-key
      // lookup, only for what would otherwise be a 404.
      if (response.status === 404 && (method === 'GET' || method === 'HEAD') && !isApi) {
        const slug = await findImportedRedirect(runtime.db, pathname).catch(() => undefined);
        if (slug) return withSecurityHeaders(new Response(null, { status: 301, headers: { location: `/posts/${slug}${url.search}` } }));
      }
      return withSecurityHeaders(response);
    });
  }

  const decision = decideRoute(pathname, method);
  if (decision.kind === 'unknown') {
    return withSecurityHeaders(
      isApi ? jsonError(404, 'not_found', 'No such endpoint.') : htmlError(404, 'Not found', 'There is no admin page here.'),
    );
  }
  if (decision.kind === 'method_not_allowed') {
    const headers = { allow: decision.allow.join(', ') };
    return withSecurityHeaders(
      isApi
        ? jsonError(405, 'method_not_allowed', `Use ${decision.allow.join(' or ')}.`, headers)
        : new Response('Method not allowed', { status: 405, headers }),
    );
  }
  if (decision.kind === 'public') return withSecurityHeaders(await next());

  if (isApi) {
    const auth = request.headers.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!match) return withSecurityHeaders(jsonError(401, 'unauthorized', 'Send a staff API token as "Authorization: Bearer <token>".'));
    const staff = await staffFromApiToken(runtime.db, match[1]!);
    if (!staff)
      return withSecurityHeaders(
        jsonError(401, 'unauthorized', 'That API token is not valid (unknown, revoked, or its staff user is disabled).'),
      );
    if (!allowed(staff.role, decision.permission)) {
      return withSecurityHeaders(jsonError(403, 'forbidden', `The ${staff.role} role may not do this.`));
    }
    context.locals.staff = staff;
    return withSecurityHeaders(await next());
  }

  const staff = await signedInStaff(runtime.db, context.cookies, runtime.config.siteUrl);
  if (!staff) {
    if (context.cookies.has(SESSION_COOKIE)) clearStaffSessionCookie(context.cookies);
    if (!(await hasAnyStaff(runtime.db))) return context.redirect('/admin/setup', 303);
    if (method === 'GET' || method === 'HEAD') {
      const back = pathname === '/admin' || pathname === '/admin/' ? '' : `?next=${encodeURIComponent(pathname + url.search)}`;
      return context.redirect(`/admin/signin${back}`, 303);
    }
    return withSecurityHeaders(htmlError(401, 'Signed out', 'Your session has ended. <a href="/admin/signin">Sign in again</a>.'));
  }
  if (!allowed(staff.role, decision.permission)) {
    return withSecurityHeaders(htmlError(403, 'Not allowed', `Your role (${staff.role}) does not give access to this page.`));
  }
  context.locals.staff = staff;
  const response = withSecurityHeaders(await next());
  response.headers.set('cache-control', 'no-store');
  return response;
});
