import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { confirmEmailChange } from '../../domain/membership/account.ts';
import { statusFor } from '../../web/http.ts';
import { messagePage } from '../../web/pages.ts';

/** The link sent to a member's new address: clicking it moves the membership there. */
export const GET: APIRoute = async ({ url, locals, redirect }) => {
  try {
    await confirmEmailChange(locals.runtime.db, locals.runtime.config.appSecret, url.searchParams.get('token') ?? '');
    return redirect('/account?email_changed=1', 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return messagePage({
      status: statusFor(err),
      title: 'Your address was not changed',
      message: err.message,
      headers: { 'referrer-policy': 'no-referrer' },
    });
  }
};
