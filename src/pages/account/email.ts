import type { APIRoute, APIContext } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { confirmEmailChange, readEmailChangeToken } from '../../domain/membership/account.ts';
import { statusFor } from '../../web/http.ts';
import { buttonPage, messagePage } from '../../web/pages.ts';
import { field, readFields } from '../../web/request-data.ts';
import { linkOwner, readerLocale } from '../../web/locale.ts';
import { readerError } from '../../web/reader-errors.ts';

/**
 * The link sent to a member's new address. GET checks the link and shows one button (mail
 * scanners open links); the POST from it moves the membership to the new address.
 */
/** The member's language (the link is theirs), unless someone else is signed in here. */
const localeOf = (astro: APIContext, token: string) =>
  readerLocale(
    astro,
    linkOwner(() => readEmailChangeToken(astro.locals.runtime.config.appSecret, token).memberId),
  );

async function failed(astro: APIContext, err: unknown, token: string): Promise<Response> {
  if (!(err instanceof DomainError)) throw err;
  const tr = await localeOf(astro, token);
  return messagePage({
    status: statusFor(err),
    title: tr.t('account.emailChange.failed'),
    message: readerError(tr, err, 'emailChange'),
    headers: { 'referrer-policy': 'no-referrer' },
    tr,
  });
}

export const GET: APIRoute = async (astro) => {
  const token = astro.url.searchParams.get('token') ?? '';
  let email: string;
  try {
    email = readEmailChangeToken(astro.locals.runtime.config.appSecret, token).email;
  } catch (err) {
    return failed(astro, err, token);
  }
  const tr = await localeOf(astro, token);
  return buttonPage({
    title: tr.t('account.emailChange.title'),
    message: tr.t('account.emailChange.message', { email }),
    action: '/account/email',
    token,
    button: tr.t('account.emailChange.button'),
    tr,
  });
};

export const POST: APIRoute = async (astro) => {
  const { request, url, locals, redirect } = astro;
  const token = field(await readFields(request), 'token') || (url.searchParams.get('token') ?? '');
  try {
    await confirmEmailChange(locals.runtime.db, locals.runtime.config.appSecret, token);
    return redirect('/account?email_changed=1', 303);
  } catch (err) {
    return failed(astro, err, token);
  }
};
