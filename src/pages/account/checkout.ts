import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { startCheckout } from '../../domain/billing/billing.ts';
import { safeNext, statusFor } from '../../web/http.ts';
import { field, readFields } from '../../web/request-data.ts';
import { messagePage } from '../../web/pages.ts';
import { signedInMember } from '../../web/identity.ts';
import { readerLocale } from '../../web/locale.ts';
import { readerError } from '../../web/reader-errors.ts';

/** POST /account/checkout (form: tier, interval=month|year, offer?) → Stripe Checkout. */
export const POST: APIRoute = async (astro) => {
  const { request, locals, cookies, redirect } = astro;
  const { db, stripe, config, keys } = locals.runtime;
  const member = await signedInMember(db, cookies, config.siteUrl);
  if (!member) return redirect('/signin?return=/account', 303);
  const form = await readFields(request);
  // Only a post of this site can be where the reader returns after paying.
  const returnTo = safeNext(field(form, 'return'), '', '/posts/') || undefined;
  try {
    const url = await startCheckout(db, stripe, keys, {
      memberId: member.id,
      tierSlug: field(form, 'tier'),
      interval: field(form, 'interval') === 'year' ? 'year' : 'month',
      returnTo,
      offerCode: field(form, 'offer') || undefined,
    });
    return redirect(url, 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    // Every failure, Stripe's included, is a page that says what happened and leads back.
    const tr = await readerLocale(astro);
    return messagePage({
      status: statusFor(err),
      title: tr.t('account.checkout.failed'),
      message: readerError(tr, err, 'checkout'),
      backTo: returnTo
        ? { href: returnTo, label: tr.t('account.checkout.backToPost') }
        : field(form, 'offer') && /^[A-Za-z0-9]{3,40}$/.test(field(form, 'offer'))
          ? { href: `/offer/${field(form, 'offer')}`, label: tr.t('account.checkout.backToOffer') }
          : { href: '/account', label: tr.t('account.billing.back') },
      tr,
    });
  }
};
