import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../../../db/types.ts';
import { slugify } from '../../lib/slug.ts';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../lib/errors.ts';
import { automaticEmail } from '../emails/emails.ts';
import { log } from '../../lib/log.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor } from '../newsletters/sender.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { idempotencyKey, isMissingInStripe } from '../../lib/stripe.ts';
import { recordEvent } from '../members/events.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { PAST_DUE_GRACE_DAYS, syncSubscription } from './subscriptions.ts';
import { offerByCode, offerRefusal, refreshOfferFromStripe } from './offers.ts';
import { handleGiftEvent } from './gifts.ts';
import { callStripe, PaymentsNotConfigured } from './stripe-calls.ts';

export { callStripe, PaymentsNotConfigured };
import { emailLanguageOf } from '../members/language.ts';

async function brandOf(db: Kysely<Database>, siteUrl: string) {
  const site = await getSiteSettings(db);
  return emailBrand(db, site, siteUrl);
}

/**
 * Paid tiers through Stripe. Members pay the brand directly: Hearth creates the products and
 * prices, opens Checkout and the billing portal, and brings each member's tier in line with
 * Stripe from verified webhooks. A webhook only names what changed: the subscription is always
 * re-read from Stripe, so duplicated or reordered events converge on Stripe's current state.
 */
export interface NewTier {
  name: string;
  monthlyAmount: number | null;
  yearlyAmount: number | null;
  currency: string;
  trialDays?: number | undefined;
  /** The trial starts without a card (Stripe cancels at its end unless one was added). */
  trialWithoutCard?: boolean | undefined;
  description?: string | undefined;
}

/** A paid tier with its Stripe product and monthly/yearly prices (created in Stripe first). */
export async function createPaidTier(db: Kysely<Database>, stripe: Stripe | undefined, input: NewTier) {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new ValidationError('Give the tier a name of 1 to 100 characters.', 'invalid_name');
  if (!/^[a-z]{3}$/.test(input.currency))
    throw new ValidationError('The currency is a three-letter ISO code in lower case, e.g. usd.', 'invalid_currency');
  for (const amount of [input.monthlyAmount, input.yearlyAmount]) {
    if (amount !== null && (!Number.isInteger(amount) || amount < 50 || amount > 100_000_00)) {
      throw new ValidationError('Amounts are whole numbers in the minor unit (cents), from 50 to 10,000,000.', 'invalid_amount');
    }
  }
  if (input.monthlyAmount === null && input.yearlyAmount === null)
    throw new ValidationError('Give a monthly or a yearly price.', 'invalid_amount');
  const slug = slugify(name, 60, 'tier');
  if (await db.selectFrom('tiers').select('id').where('slug', '=', slug).executeTakeFirst())
    throw new ConflictError(`A tier called "${slug}" exists already.`, 'tier_exists');
  if (!stripe) throw new PaymentsNotConfigured();
  // Each key covers its parameters: a retry replays, a different request is a new one.
  const productParams = { name, metadata: { hearth_tier: slug } };
  const product = await callStripe(
    'create product',
    () => stripe.products.create(productParams, { idempotencyKey: idempotencyKey(`tier-product-${slug}`, productParams) }),
    { forStaff: true },
  );
  const price = (amount: number | null, interval: 'month' | 'year') => {
    if (amount === null) return Promise.resolve(null);
    const params = { product: product.id, unit_amount: amount, currency: input.currency, recurring: { interval } };
    return callStripe(
      'create price',
      () => stripe.prices.create(params, { idempotencyKey: idempotencyKey(`tier-price-${slug}-${interval}`, params) }),
      { forStaff: true },
    );
  };
  const [monthly, yearly] = await Promise.all([price(input.monthlyAmount, 'month'), price(input.yearlyAmount, 'year')]);
  return db
    .insertInto('tiers')
    .values({
      slug,
      name,
      description: input.description ?? '',
      paid: true,
      monthly_amount: input.monthlyAmount,
      yearly_amount: input.yearlyAmount,
      currency: input.currency,
      trial_days: input.trialDays ?? 0,
      trial_without_card: (input.trialDays ?? 0) > 0 && (input.trialWithoutCard ?? false),
      stripe_product_id: product.id,
      stripe_monthly_price_id: monthly?.id ?? null,
      stripe_yearly_price_id: yearly?.id ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A Stripe Checkout Session (subscription mode) for a member and a tier; returns its URL. */
export async function startCheckout(
  db: Kysely<Database>,
  stripe: Stripe | undefined,
  ctx: SiteLinks,
  input: { memberId: string; tierSlug: string; interval: 'month' | 'year'; returnTo?: string | undefined; offerCode?: string | undefined },
): Promise<string> {
  if (!stripe) throw new PaymentsNotConfigured();
  // An offer decides the tier (and the interval when it has one); it is checked here, then by Stripe.
  const offer = input.offerCode ? await offerByCode(db, input.offerCode) : undefined;
  if (input.offerCode && !offer) throw new NotFoundError('There is no such offer.', 'offer_not_found');
  if (offer) {
    const refusal = await offerRefusal(db, offer, input.memberId);
    if (refusal) throw refusal;
    input = { ...input, tierSlug: offer.tier_slug, interval: offer.interval ?? input.interval };
  }
  const tier = await db
    .selectFrom('tiers')
    .selectAll()
    .where('slug', '=', input.tierSlug)
    .where('paid', '=', true)
    .where('active', '=', true)
    .executeTakeFirst();
  const priceId = input.interval === 'year' ? tier?.stripe_yearly_price_id : tier?.stripe_monthly_price_id;
  if (!tier || !priceId) throw new ValidationError('That tier has no such price.', 'unknown_price');
  const member = await db
    .selectFrom('members')
    .select(['id', 'email', 'stripe_customer_id'])
    .where('id', '=', input.memberId)
    .executeTakeFirst();
  if (!member) throw new NotFoundError('No such member.', 'member_not_found');
  let customer = member.stripe_customer_id;
  if (!customer) {
    // The idempotency key makes a double click one customer, not two.
    const params = { email: member.email, metadata: { member_id: member.id } };
    customer = (
      await callStripe('create customer', () =>
        stripe.customers.create(params, { idempotencyKey: idempotencyKey(`customer-${member.id}`, params) }),
      )
    ).id;
    await db
      .updateTable('members')
      .set({ stripe_customer_id: customer })
      .where('id', '=', member.id)
      .where('stripe_customer_id', 'is', null)
      .execute();
  }
  const back = input.returnTo ?? '/account';
  // The offer's trial replaces the tier's; either may start without a card (Stripe cancels the
  // subscription at the trial's end when no card was added by then).
  const trialDays = offer && offer.trial_days > 0 ? offer.trial_days : tier.trial_days;
  const withoutCard = trialDays > 0 && (offer && offer.trial_days > 0 ? offer.trial_without_card : tier.trial_without_card);
  const params: Stripe.Checkout.SessionCreateParams = {
    mode: 'subscription',
    customer,
    client_reference_id: member.id,
    line_items: [{ price: priceId, quantity: 1 }],
    // Stripe takes one or the other: the offer's code, or a box for any code.
    ...(offer ? { discounts: [{ promotion_code: offer.stripe_promotion_code_id }] } : { allow_promotion_codes: true }),
    ...(withoutCard ? { payment_method_collection: 'if_required' as const } : {}),
    metadata: { member_id: member.id, tier_id: tier.id, ...(offer ? { offer_id: offer.id } : {}) },
    subscription_data: {
      ...(trialDays > 0 ? { trial_period_days: trialDays } : {}),
      ...(withoutCard ? { trial_settings: { end_behavior: { missing_payment_method: 'cancel' as const } } } : {}),
      metadata: { member_id: member.id },
    },
    // Back to the post that asked for the upgrade, when there was one.
    success_url: `${ctx.siteUrl}${back}${back.includes('?') ? '&' : '?'}checkout=success`,
    cancel_url: `${ctx.siteUrl}/account?checkout=cancelled`,
  };
  // A double click within the minute is one session (the same key and parameters replay it);
  // a checkout from another page has other parameters, hence another key. A key reused with
  // other parameters is what Stripe refuses (400 idempotency_error).
  const minute = Math.floor(Date.now() / 60_000);
  const session = await callStripe('create checkout session', () =>
    stripe.checkout.sessions.create(params, { idempotencyKey: idempotencyKey(`checkout-${member.id}-${minute}`, params) }),
  );
  if (!session.url)
    throw new UnavailableError('Our payment provider did not open a payment page. Please try again.', 'payments_unavailable').with({
      reason: 'no_page',
    });
  return session.url;
}

export async function billingPortalUrl(
  db: Kysely<Database>,
  stripe: Stripe | undefined,
  ctx: SiteLinks,
  memberId: string,
): Promise<string> {
  if (!stripe) throw new PaymentsNotConfigured();
  const member = await db.selectFrom('members').select('stripe_customer_id').where('id', '=', memberId).executeTakeFirst();
  if (!member?.stripe_customer_id) throw new ValidationError('You have no billing account yet: choose a paid tier first.', 'no_customer');
  const customer = member.stripe_customer_id;
  const session = await callStripe('create billing portal session', () =>
    stripe.billingPortal.sessions.create({ customer, return_url: `${ctx.siteUrl}/account` }),
  );
  return session.url;
}

function subscriptionIdOf(type: string, object: Record<string, unknown>): string | undefined {
  if (type.startsWith('customer.subscription.')) return object.id as string;
  if (type === 'checkout.session.completed') return (object.subscription as string | null) ?? undefined;
  if (type.startsWith('invoice.')) {
    const parent = object.parent as { subscription_details?: { subscription?: string } } | undefined;
    return (object.subscription as string | undefined) ?? parent?.subscription_details?.subscription;
  }
  return undefined;
}

/**
 * The Stripe event types the webhook acts on: the ones to enable on the webhook endpoint in
 * Stripe's dashboard (the install checklist shows them). Any other type is answered 200 and ignored.
 */
export const HANDLED_EVENTS = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
  // Offers follow their promotion code and coupon (offers.ts).
  'promotion_code.updated',
  'coupon.updated',
  'coupon.deleted',
  // Gifts: paid through Checkout in payment mode, refunded (gifts.ts).
  'charge.refunded',
] as const;

export type StripeEventOutcome = 'handled' | 'duplicate' | 'ignored' | 'gone';

/**
 * One verified Stripe event: stored once, then the subscription it names is re-synced. A
 * subscription Stripe no longer returns (deleted, or from another account) cannot be re-read:
 * the event is acknowledged ('gone', logged) instead of failing, or Stripe would retry it for days.
 */
export async function handleStripeEvent(
  db: Kysely<Database>,
  stripe: Stripe,
  ctx: SiteLinks,
  event: { id: string; type: string; data: { object: unknown } },
): Promise<StripeEventOutcome> {
  if (!(HANDLED_EVENTS as readonly string[]).includes(event.type)) return 'ignored';
  if (await db.selectFrom('stripe_events').select('id').where('id', '=', event.id).executeTakeFirst()) return 'duplicate';
  const object = event.data.object as Record<string, unknown>;
  const subscriptionId = subscriptionIdOf(event.type, object);
  let outcome: StripeEventOutcome = 'handled';
  if (event.type === 'promotion_code.updated') await refreshOfferFromStripe(db, stripe, { promotionCodeId: String(object.id) });
  if (event.type.startsWith('coupon.')) await refreshOfferFromStripe(db, stripe, { couponId: String(object.id) });
  if ((event.type === 'checkout.session.completed' && object.mode === 'payment') || event.type === 'charge.refunded')
    await handleGiftEvent(db, stripe, ctx, event.type, object);
  if (subscriptionId) {
    try {
      await syncSubscription(db, stripe, ctx, subscriptionId);
    } catch (err) {
      if (!isMissingInStripe(err)) throw err;
      // Our copy (if any) is left as it is: a wrong key for the account would otherwise look like
      // every subscription deleted.
      log.warn('stripe webhook names a subscription Stripe does not return; acknowledged', {
        event: event.id,
        type: event.type,
        subscription: subscriptionId,
        reason: (err as Error).message,
      });
      outcome = 'gone';
    }
  }
  if (event.type === 'invoice.payment_failed' && subscriptionId && outcome === 'handled') {
    const sub = await db
      .selectFrom('subscriptions as s')
      .innerJoin('members as m', 'm.id', 's.member_id')
      .leftJoin('tiers as t', 't.id', 's.tier_id')
      .select(['s.member_id', 'm.email', 't.name as tier_name'])
      .where('s.stripe_subscription_id', '=', subscriptionId)
      .executeTakeFirst();
    if (sub) {
      await recordEvent(db, sub.member_id, 'status_changed', { payment_failed: true });
      const brand = await brandOf(db, ctx.siteUrl);
      const email = await automaticEmail(db, 'payment_failed', {
        brand,
        tierName: sub.tier_name ?? 'paid',
        graceDays: PAST_DUE_GRACE_DAYS,
        lang: await emailLanguageOf(db, sub.member_id),
      });
      await queueEmail(
        db,
        { ...(await senderFor(db, ctx)), to: [sub.email], ...email, tags: [{ name: 'kind', value: 'payment-failed' }] },
        { idempotencyKey: `payment-failed-${event.id}` },
      );
    }
  }
  // Recorded last: if handling failed, Stripe retries and the event is handled then.
  await db
    .insertInto('stripe_events')
    .values({ id: event.id, type: event.type })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  return outcome;
}

/**
 * Links a tier to prices that already exist in Stripe (a brand moving from another tool keeps
 * its prices and subscribers). Each price is checked in Stripe: it must exist, recur at the
 * right interval, and be active.
 */
export async function attachPrices(
  db: Kysely<Database>,
  stripe: Stripe | undefined,
  tierSlug: string,
  prices: { monthly?: string | undefined; yearly?: string | undefined },
) {
  if (!stripe) throw new PaymentsNotConfigured();
  const tier = await db.selectFrom('tiers').select(['id', 'paid']).where('slug', '=', tierSlug).executeTakeFirst();
  if (!tier) throw new NotFoundError('No such tier.', 'tier_not_found');
  if (!tier.paid) throw new ValidationError('The free tier has no prices.', 'free_tier');
  const set: {
    stripe_monthly_price_id?: string;
    monthly_amount?: number;
    stripe_yearly_price_id?: string;
    yearly_amount?: number;
    currency?: string;
  } = {};
  for (const [interval, id] of [
    ['month', prices.monthly],
    ['year', prices.yearly],
  ] as const) {
    if (!id) continue;
    if (!/^price_[A-Za-z0-9]+$/.test(id))
      throw new ValidationError(`"${id.slice(0, 40)}" is not a Stripe price ID (price_…).`, 'invalid_price');
    const price = await callStripe('retrieve price', () => stripe.prices.retrieve(id), {
      ifMissing: new ValidationError(`Stripe has no price ${id}.`, 'unknown_price'),
      forStaff: true,
    });
    if (price.recurring?.interval !== interval || price.active === false) {
      throw new ValidationError(`Price ${id} is not an active ${interval}ly recurring price.`, 'invalid_price');
    }
    if (interval === 'month')
      Object.assign(set, { stripe_monthly_price_id: id, monthly_amount: price.unit_amount ?? 0, currency: price.currency });
    else Object.assign(set, { stripe_yearly_price_id: id, yearly_amount: price.unit_amount ?? 0, currency: price.currency });
  }
  if (Object.keys(set).length === 0) throw new ValidationError('Give a monthly or a yearly price ID.', 'invalid_price');
  await db.updateTable('tiers').set(set).where('id', '=', tier.id).execute();
}
