import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { billingPortalUrl } from '../../domain/billing/billing.ts';
import { statusFor } from '../../web/http.ts';
import { messagePage } from '../../web/pages.ts';
import { signedInMember } from '../../web/identity.ts';
import { readerLocale } from '../../web/locale.ts';
import { readerError } from '../../web/reader-errors.ts';

/** POST /account/billing → the Stripe billing portal (card, invoices, cancel). */
export const POST: APIRoute = async (astro) => {
  const { locals, cookies, redirect } = astro;
  const { db, stripe, config, keys } = locals.runtime;
  const member = await signedInMember(db, cookies, config.siteUrl);
  if (!member) return redirect('/signin?return=/account', 303);
  try {
    return redirect(await billingPortalUrl(db, stripe, keys, member.id), 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const tr = await readerLocale(astro);
    return messagePage({
      status: statusFor(err),
      title: tr.t('account.billing.unavailable'),
      message: readerError(tr, err, 'billing'),
      backTo: { href: '/account', label: tr.t('account.billing.back') },
      tr,
    });
  }
};
