import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { verifySignInLink } from '../../domain/membership/signin.ts';
import { safeNext, statusFor } from '../../web/http.ts';
import { messagePage } from '../../web/pages.ts';
import { setMemberSessionCookie } from '../../web/session-cookie.ts';

export const GET: APIRoute = async ({ url, locals, cookies, redirect }) => {
  try {
    const session = await verifySignInLink(locals.runtime.db, url.searchParams.get('token') ?? '');
    setMemberSessionCookie(cookies, locals.runtime.config.siteUrl, session.token, session.expiresAt);
    return redirect(safeNext(session.returnTo, '/account'), 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return messagePage({
      status: statusFor(err),
      title: 'That sign-in link did not work',
      message: err.message,
      headers: { 'referrer-policy': 'no-referrer' },
    });
  }
};
