import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { verifySignInCode } from '../../domain/membership/signin.ts';
import { safeNext, statusFor } from '../../web/http.ts';
import { field, readFields } from '../../web/request-data.ts';
import { messagePage } from '../../web/pages.ts';
import { setMemberSessionCookie } from '../../web/session-cookie.ts';

export const POST: APIRoute = async ({ request, locals, cookies, redirect }) => {
  const form = await readFields(request);
  try {
    const { config, db, keys } = locals.runtime;
    const session = await verifySignInCode(db, keys, { email: field(form, 'email'), code: field(form, 'code') });
    setMemberSessionCookie(cookies, config.siteUrl, session.token, session.expiresAt);
    return redirect(safeNext(field(form, 'return') || session.returnTo, '/account'), 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return messagePage({ status: statusFor(err), title: 'That code did not work', message: err.message });
  }
};
