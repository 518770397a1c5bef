import type { APIRoute } from 'astro';
import { DomainError } from '../../lib/errors.ts';
import { billingPortalUrl } from '../../domain/billing/billing.ts';
import { statusFor } from '../../web/http.ts';
import { messagePage } from '../../web/pages.ts';
import { signedInMember } from '../../web/identity.ts';

/** POST /account/billing → the Stripe billing portal (card, invoices, cancel). */
export const POST: APIRoute = async ({ locals, cookies, redirect }) => {
  const { db, stripe, config, keys } = locals.runtime;
  const member = await signedInMember(db, cookies, config.siteUrl);
  if (!member) return redirect('/signin?return=/account', 303);
  try {
    return redirect(await billingPortalUrl(db, stripe, keys, member.id), 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    return messagePage({
      status: statusFor(err),
      title: 'Billing is not available',
      message: err.message,
      backTo: { href: '/account', label: 'Back to your account' },
    });
  }
};
