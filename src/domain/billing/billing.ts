import { sql, type Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../../../db/types.ts';
import { slugify } from '../../lib/slug.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { membershipEndedEmail, paidWelcomeEmail, paymentFailedEmail } from '../../../emails/billing.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor } from '../newsletters/sender.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { recordEvent } from '../members/events.ts';
import { bankUnusedRewardDays, startBankedRewardsFor } from '../referrals/rewards.ts';
import { getSiteSettings } from '../site/settings.ts';
import { isId } from '../../lib/ids.ts';

async function brandOf(db: Kysely<Database>, siteUrl: string) {
  const site = await getSiteSettings(db);
  return { title: site.title, accentColor: site.accentColor, siteUrl };
}

/**
 * Paid tiers through Stripe. Members pay the brand directly: Hearth creates the products and
 * prices, opens Checkout and the billing portal, and brings each member's tier in line with
 * Stripe from verified webhooks. A webhook only names what changed: the subscription is always
 * re-read from Stripe, so duplicated or reordered events converge on Stripe's current state.
 */
export class PaymentsNotConfigured extends ConflictError {
  constructor() {
    super('Payments are not configured on this site.', 'payments_not_configured');
  }
}

export interface NewTier {
  name: string;
  monthlyAmount: number | null;
  yearlyAmount: number | null;
  currency: string;
  trialDays?: number | undefined;
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
  const product = await stripe.products.create({ name, metadata: { hearth_tier: slug } }, { idempotencyKey: `tier-product-${slug}` });
  const price = (amount: number | null, interval: 'month' | 'year') =>
    amount === null
      ? Promise.resolve(null)
      : stripe.prices.create(
          { product: product.id, unit_amount: amount, currency: input.currency, recurring: { interval } },
          { idempotencyKey: `tier-price-${slug}-${interval}-${amount}` },
        );
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
  input: { memberId: string; tierSlug: string; interval: 'month' | 'year'; returnTo?: string | undefined },
): Promise<string> {
  if (!stripe) throw new PaymentsNotConfigured();
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
    customer = (
      await stripe.customers.create(
        { email: member.email, metadata: { member_id: member.id } },
        { idempotencyKey: `customer-${member.id}` },
      )
    ).id;
    await db
      .updateTable('members')
      .set({ stripe_customer_id: customer })
      .where('id', '=', member.id)
      .where('stripe_customer_id', 'is', null)
      .execute();
  }
  const minute = Math.floor(Date.now() / 60_000);
  const session = await stripe.checkout.sessions.create(
    {
      mode: 'subscription',
      customer,
      client_reference_id: member.id,
      line_items: [{ price: priceId, quantity: 1 }],
      allow_promotion_codes: true,
      metadata: { member_id: member.id, tier_id: tier.id },
      ...(tier.trial_days > 0
        ? { subscription_data: { trial_period_days: tier.trial_days, metadata: { member_id: member.id } } }
        : { subscription_data: { metadata: { member_id: member.id } } }),
      // Back to the post that asked for the upgrade, when there was one.
      success_url: `${ctx.siteUrl}${input.returnTo ?? '/account'}${(input.returnTo ?? '/account').includes('?') ? '&' : '?'}checkout=success`,
      cancel_url: `${ctx.siteUrl}/account?checkout=cancelled`,
    },
    { idempotencyKey: `checkout-${member.id}-${tier.id}-${input.interval}-${minute}` },
  );
  if (!session.url) throw new Error('Stripe returned a session without a URL');
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
  const session = await stripe.billingPortal.sessions.create({ customer: member.stripe_customer_id, return_url: `${ctx.siteUrl}/account` });
  return session.url;
}

/** How long a member whose payment failed keeps access while Stripe retries. */
export const PAST_DUE_GRACE_DAYS = 7;

/** Whether a subscription in this state gives access now. */
export function entitles(sub: { status: string; current_period_end: Date | null }, now = Date.now()): boolean {
  if (sub.status === 'active' || sub.status === 'trialing') return true;
  if (sub.status === 'past_due')
    return sub.current_period_end === null || sub.current_period_end.getTime() + PAST_DUE_GRACE_DAYS * 86_400_000 > now;
  return false;
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

export const HANDLED_EVENTS = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
] as const;

/** One verified Stripe event: stored once, then the subscription it names is re-synced. */
export async function handleStripeEvent(
  db: Kysely<Database>,
  stripe: Stripe,
  ctx: SiteLinks,
  event: { id: string; type: string; data: { object: unknown } },
): Promise<'handled' | 'duplicate' | 'ignored'> {
  if (!(HANDLED_EVENTS as readonly string[]).includes(event.type)) return 'ignored';
  if (await db.selectFrom('stripe_events').select('id').where('id', '=', event.id).executeTakeFirst()) return 'duplicate';
  const subscriptionId = subscriptionIdOf(event.type, event.data.object as Record<string, unknown>);
  if (subscriptionId) await syncSubscription(db, stripe, ctx, subscriptionId);
  if (event.type === 'invoice.payment_failed' && subscriptionId) {
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
      const email = paymentFailedEmail({ brand, tierName: sub.tier_name ?? 'paid', graceDays: PAST_DUE_GRACE_DAYS });
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
  return 'handled';
}

/** Brings our copy of a subscription, and the member's tier, in line with Stripe's current state. */
export async function syncSubscription(db: Kysely<Database>, stripe: Stripe, ctx: SiteLinks, subscriptionId: string): Promise<void> {
  const sub = await stripe.subscriptions.retrieve(subscriptionId);
  const customer = typeof sub.customer === 'string' ? sub.customer : sub.customer.id;
  const item = sub.items.data[0];
  const priceId = item?.price.id ?? null;
  const periodEnd =
    (item as { current_period_end?: number } | undefined)?.current_period_end ??
    (sub as unknown as { current_period_end?: number }).current_period_end;
  // metadata.member_id is ours (set at checkout), but a subscription made elsewhere in the
  // Stripe account may carry anything: only a number is looked up.
  const metaMember = String(sub.metadata?.member_id ?? '');
  const memberIdHint = isId(metaMember) ? metaMember : '0';
  await db.transaction().execute(async (trx) => {
    const member = await trx
      .selectFrom('members')
      .select(['id', 'email', 'tier_id', 'tier_source'])
      .where((eb) => eb.or([eb('stripe_customer_id', '=', customer), eb('id', '=', memberIdHint)]))
      .forUpdate()
      .executeTakeFirst();
    if (!member) return; // a customer that is not one of our members (made elsewhere in the account)
    const tier = priceId
      ? await trx
          .selectFrom('tiers')
          .select('id')
          .where((eb) => eb.or([eb('stripe_monthly_price_id', '=', priceId), eb('stripe_yearly_price_id', '=', priceId)]))
          .executeTakeFirst()
      : undefined;
    const row = {
      member_id: member.id,
      tier_id: tier?.id ?? null,
      status: sub.status,
      price_id: priceId,
      current_period_end: periodEnd ? new Date(periodEnd * 1000) : null,
      cancel_at_period_end: sub.cancel_at_period_end,
      updated_at: new Date(),
    };
    await trx
      .insertInto('subscriptions')
      .values({ stripe_subscription_id: sub.id, ...row })
      .onConflict((oc) => oc.column('stripe_subscription_id').doUpdateSet(row))
      .execute();
    await trx
      .updateTable('members')
      .set({ stripe_customer_id: customer })
      .where('id', '=', member.id)
      .where('stripe_customer_id', 'is', null)
      .execute();
    // The member's tier is the best of their entitling subscriptions; without one, free again
    // (complimentary access set by staff is left alone).
    const subs = await trx
      .selectFrom('subscriptions')
      .select(['tier_id', 'status', 'current_period_end'])
      .where('member_id', '=', member.id)
      .execute();
    const entitled = subs.find((s) => s.tier_id && entitles(s));
    const brand = await brandOf(trx, ctx.siteUrl);
    if (entitled && (member.tier_id !== entitled.tier_id || member.tier_source !== 'stripe')) {
      // Referral reward days still running are kept for after the subscription (referrals/rewards.ts).
      await bankUnusedRewardDays(trx, member.id);
      await trx
        .updateTable('members')
        .set({ tier_id: entitled.tier_id!, tier_source: 'stripe', comp_until: null, status: 'active', updated_at: new Date() })
        .where('id', '=', member.id)
        .execute();
      const tierRow = await trx
        .selectFrom('tiers')
        .select(['name', 'monthly_amount', 'yearly_amount', 'stripe_yearly_price_id'])
        .where('id', '=', entitled.tier_id!)
        .executeTakeFirstOrThrow();
      // Monthly recurring revenue this subscription brings, for the stats (yearly prices count a twelfth).
      const mrr =
        priceId && priceId === tierRow.stripe_yearly_price_id
          ? Math.round((tierRow.yearly_amount ?? 0) / 12)
          : (tierRow.monthly_amount ?? 0);
      await recordEvent(trx, member.id, 'subscription_started', {
        subscription: sub.id,
        status: sub.status,
        tier_id: entitled.tier_id,
        mrr_cents: mrr,
      });
      await queueEmail(
        trx,
        {
          ...(await senderFor(trx, ctx)),
          to: [member.email],
          ...paidWelcomeEmail({ brand, tierName: tierRow.name }),
          tags: [{ name: 'kind', value: 'paid-welcome' }],
        },
        { idempotencyKey: `paid-welcome-${sub.id}-${entitled.tier_id}` },
      );
    } else if (!entitled && member.tier_source === 'stripe') {
      const previous = await trx.selectFrom('tiers').select('name').where('id', '=', member.tier_id).executeTakeFirst();
      await trx
        .updateTable('members')
        .set({
          tier_id: sql<string>`(select id from tiers where slug = 'free')` as unknown as string,
          tier_source: 'default',
          updated_at: new Date(),
        })
        .where('id', '=', member.id)
        .execute();
      // Banked referral reward days start now.
      await startBankedRewardsFor(trx, member.id);
      await recordEvent(trx, member.id, 'subscription_ended', { subscription: sub.id, status: sub.status });
      await queueEmail(
        trx,
        {
          ...(await senderFor(trx, ctx)),
          to: [member.email],
          ...membershipEndedEmail({ brand, tierName: previous?.name ?? 'paid' }),
          tags: [{ name: 'kind', value: 'membership-ended' }],
        },
        { idempotencyKey: `membership-ended-${sub.id}` },
      );
    }
  });
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
    let price;
    try {
      price = await stripe.prices.retrieve(id);
    } catch {
      throw new ValidationError(`Stripe has no price ${id}.`, 'unknown_price');
    }
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
