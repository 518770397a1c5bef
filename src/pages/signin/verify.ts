import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { checkSignInLink, verifySignInLink } from '../../domain/membership/signin.ts';
import { safeNext, statusFor } from '../../web/http.ts';
import { buttonPage, messagePage } from '../../web/pages.ts';
import { field, readFields } from '../../web/request-data.ts';
import { setMemberSessionCookie } from '../../web/session-cookie.ts';

/**
 * The magic link. GET shows a "Sign in" button and uses nothing (mail scanners open links); the
 * POST from that button signs in, and confirms a pending member (counting their referral).
 */
function failed(err: unknown): Response {
  if (!(err instanceof DomainError)) throw err;
  return messagePage({
    status: statusFor(err),
    title: 'That sign-in link did not work',
    message: err.message,
    headers: { 'referrer-policy': 'no-referrer' },
  });
}

export const GET: APIRoute = async ({ url, locals }) => {
  const token = url.searchParams.get('token') ?? '';
  try {
    await checkSignInLink(locals.runtime.db, token);
  } catch (err) {
    return failed(err);
  }
  return buttonPage({
    title: 'Sign in',
    message: 'Press the button to sign in on this browser.',
    action: '/signin/verify',
    token,
    button: 'Sign in',
  });
};

export const POST: APIRoute = async ({ request, url, locals, cookies, redirect }) => {
  const token = field(await readFields(request), 'token') || (url.searchParams.get('token') ?? '');
  try {
    const session = await verifySignInLink(locals.runtime.db, token);
    setMemberSessionCookie(cookies, locals.runtime.config.siteUrl, session.token, session.expiresAt);
    return redirect(safeNext(session.returnTo, '/account'), 303);
  } catch (err) {
    return failed(err);
  }
};
