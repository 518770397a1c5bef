import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { confirmEmailChange, readEmailChangeToken } from '../../domain/membership/account.ts';
import { statusFor } from '../../web/http.ts';
import { buttonPage, messagePage } from '../../web/pages.ts';
import { field, readFields } from '../../web/request-data.ts';

/**
 * The link sent to a member's new address. GET checks the link and shows one button (mail
 * scanners open links); the POST from it moves the membership to the new address.
 */
function failed(err: unknown): Response {
  if (!(err instanceof DomainError)) throw err;
  return messagePage({
    status: statusFor(err),
    title: 'Your address was not changed',
    message: err.message,
    headers: { 'referrer-policy': 'no-referrer' },
  });
}

export const GET: APIRoute = ({ url, locals }) => {
  const token = url.searchParams.get('token') ?? '';
  let email: string;
  try {
    email = readEmailChangeToken(locals.runtime.config.appSecret, token).email;
  } catch (err) {
    return failed(err);
  }
  return buttonPage({
    title: 'Confirm your new address',
    message: `Press the button to receive this membership's email at ${email} from now on.`,
    action: '/account/email',
    token,
    button: 'Use this address',
  });
};

export const POST: APIRoute = async ({ request, url, locals, redirect }) => {
  const token = field(await readFields(request), 'token') || (url.searchParams.get('token') ?? '');
  try {
    await confirmEmailChange(locals.runtime.db, locals.runtime.config.appSecret, token);
    return redirect('/account?email_changed=1', 303);
  } catch (err) {
    return failed(err);
  }
};
