import type { APIContext, APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { checkSignInLink, verifySignInLink } from '../../domain/membership/signin.ts';
import { safeNext, statusFor } from '../../web/http.ts';
import { buttonPage, messagePage } from '../../web/pages.ts';
import { field, readFields } from '../../web/request-data.ts';
import { setMemberSessionCookie } from '../../web/session-cookie.ts';
import { readerLocale } from '../../web/locale.ts';
import { readerError } from '../../web/reader-errors.ts';

/**
 * The magic link. GET shows a "Sign in" button and uses nothing (mail scanners open links); the
 * POST from that button signs in, and confirms a pending member (counting their referral).
 */
async function failed(astro: APIContext, err: unknown): Promise<Response> {
  if (!(err instanceof DomainError)) throw err;
  const tr = await readerLocale(astro);
  return messagePage({
    status: statusFor(err),
    title: tr.t('account.signin.linkFailed'),
    message: readerError(tr, err, 'signin'),
    headers: { 'referrer-policy': 'no-referrer' },
    backTo: { href: '/signin', label: tr.t('account.signin.title') },
    tr,
  });
}

export const GET: APIRoute = async (astro) => {
  const token = astro.url.searchParams.get('token') ?? '';
  try {
    await checkSignInLink(astro.locals.runtime.db, token);
  } catch (err) {
    return failed(astro, err);
  }
  const tr = await readerLocale(astro);
  return buttonPage({
    title: tr.t('account.signin.title'),
    message: tr.t('account.signin.button'),
    action: '/signin/verify',
    token,
    button: tr.t('account.signin.submit'),
    tr,
  });
};

export const POST: APIRoute = async (astro) => {
  const { request, url, locals, cookies, redirect } = astro;
  const token = field(await readFields(request), 'token') || (url.searchParams.get('token') ?? '');
  try {
    const session = await verifySignInLink(locals.runtime.db, token);
    setMemberSessionCookie(cookies, locals.runtime.config.siteUrl, session.token, session.expiresAt);
    return redirect(safeNext(session.returnTo, '/account'), 303);
  } catch (err) {
    return failed(astro, err);
  }
};
