import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { verifySignInCode } from '../../domain/membership/signin.ts';
import { safeNext, statusFor } from '../../web/http.ts';
import { field, readFields } from '../../web/request-data.ts';
import { messagePage } from '../../web/pages.ts';
import { setMemberSessionCookie } from '../../web/session-cookie.ts';
import { readerLocale } from '../../web/locale.ts';
import { readerError } from '../../web/reader-errors.ts';

export const POST: APIRoute = async (astro) => {
  const { request, locals, cookies, redirect } = astro;
  const form = await readFields(request);
  try {
    const { config, db, keys } = locals.runtime;
    const session = await verifySignInCode(db, keys, { email: field(form, 'email'), code: field(form, 'code') });
    setMemberSessionCookie(cookies, config.siteUrl, session.token, session.expiresAt);
    return redirect(safeNext(field(form, 'return') || session.returnTo, '/account'), 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const tr = await readerLocale(astro);
    return messagePage({
      status: statusFor(err),
      title: tr.t('account.signin.codeFailed'),
      message: readerError(tr, err, 'signin'),
      backTo: { href: '/signin', label: tr.t('account.signin.title') },
      tr,
    });
  }
};
