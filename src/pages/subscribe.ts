import type { APIRoute } from 'astro';
import { DomainError, RateLimitedError } from '../lib/errors.ts';
import { subscribe } from '../domain/members/subscribe.ts';
import { clientIp, json, jsonError, statusFor } from '../web/http.ts';
import { readFields } from '../web/request-data.ts';
import { messagePage } from '../web/pages.ts';
import { signedInMember } from '../web/identity.ts';
import { readerLocale, subscribeLanguage } from '../web/locale.ts';
import { readerError } from '../web/reader-errors.ts';
import { isLanguage, translator } from '../lib/i18n.ts';

/**
 * POST /subscribe (DESIGN.md): form → 303 to "check your inbox"; JSON → 202. The answer is the
 * same whether the address was new, pending, active, unsubscribed or suppressed.
 */
/** The Referer header, unless it is one of our own pages (then the landing page's hidden field speaks). */
function outsideReferrer(request: Request, url: URL): string | null {
  const referer = request.headers.get('referer');
  if (!referer) return null;
  try {
    return new URL(referer).host === url.host ? null : referer;
  } catch {
    return null;
  }
}

export const POST: APIRoute = async (astro) => {
  const { request, url, locals, cookies, clientAddress, redirect } = astro;
  const fields = await readFields(request);
  const { db, config, keys } = locals.runtime;
  const embed = fields.get('embed') === '1';
  const newsletters = [...fields.getAll('newsletter'), ...fields.getAll('newsletters')];
  // A referrer signed in on this browser, sending their own code, is referring themselves.
  const signedIn = fields.get('ref') ? await signedInMember(db, cookies, config.siteUrl) : undefined;
  const language = subscribeLanguage(fields.get('language'), request.headers.get('accept-language'));
  // The answer speaks the language of the page the form was on (a join page sends it), else the
  // signed-in member's or the site's.
  const answerLocale = async () => {
    const reader = await readerLocale(astro);
    const own = fields.get('language').trim().toLowerCase();
    return own && isLanguage(own) ? translator(own, reader.site.timeZone) : reader;
  };
  try {
    await subscribe(db, keys, {
      email: fields.get('email'),
      name: fields.get('name'),
      newsletters,
      ref: fields.get('ref'),
      utmSource: fields.get('utm_source'),
      utmMedium: fields.get('utm_medium'),
      utmCampaign: fields.get('utm_campaign'),
      referrer: fields.get('referrer') || outsideReferrer(request, url),
      landingPlatform: fields.get('platform'),
      landingPage: fields.get('landing_page'),
      clientIp: clientIp(() => clientAddress),
      userAgent: request.headers.get('user-agent'),
      signedInMemberId: signedIn?.id,
      honeypot: fields.get('website'),
      language,
    });
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const status = statusFor(err);
    const headers: Record<string, string> = err instanceof RateLimitedError ? { 'retry-after': String(err.retryAfter) } : {};
    const tr = await answerLocale();
    if (fields.json) return jsonError(status, err.code, readerError(tr, err, 'subscribe'), headers);
    const notOpen = err.code === 'not_open';
    const title = tr.t(notOpen ? 'account.subscribe.notOpen' : 'account.subscribe.failed');
    return messagePage({ status, title, message: readerError(tr, err, 'subscribe'), back: !notOpen, headers, frameable: embed, tr });
  }
  if (fields.json) return json({ ok: true, message: (await answerLocale()).t('account.subscribe.accepted') }, 202);
  return redirect(embed ? '/embed/subscribed' : '/subscribe/check-inbox', 303);
};

export const GET: APIRoute = ({ redirect }) => redirect('/join', 303);
