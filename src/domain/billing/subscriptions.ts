import { sql, type Kysely, type Transaction } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../../../db/types.ts';
import { automaticEmail } from '../emails/emails.ts';
import { isId } from '../../lib/ids.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor } from '../newsletters/sender.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { recordEvent } from '../members/events.ts';
import { bankUnusedRewardDays, startBankedRewardsFor } from '../referrals/rewards.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { enqueue } from '../../lib/queue.ts';
import { emitWebhookEvent } from '../webhooks/events.ts';
import { monthlyRevenue, recordMrrMovement } from './mrr.ts';
import { recordRedemption } from './offers.ts';
import { startBankedGiftsFor } from './gifts.ts';

/** How many days before a trial's end its reminder email goes out. */
export const TRIAL_REMINDER_DAYS = 3;
import { noteTierBefore } from '../automations/enter.ts';
import { emailLanguageOf } from '../members/language.ts';

/** How long a member whose payment failed keeps access while Stripe retries. */
export const PAST_DUE_GRACE_DAYS = 7;

/** Whether a subscription in this state gives access now. */
export function entitles(sub: { status: string; current_period_end: Date | null }, now = Date.now()): boolean {
  if (sub.status === 'active' || sub.status === 'trialing') return true;
  if (sub.status === 'past_due')
    return sub.current_period_end === null || sub.current_period_end.getTime() + PAST_DUE_GRACE_DAYS * 86_400_000 > now;
  return false;
}

/** What Hearth keeps of a Stripe subscription: read from Stripe, never from an event's body. */
export interface SubscriptionSnapshot {
  id: string;
  customer: string;
  status: string;
  priceId: string | null;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  /** metadata.member_id, set by Hearth's own Checkout; only an id is kept (other tools write anything). */
  memberIdHint: string | null;
  trialEnd: Date | null;
  /** The coupon of the subscription's first discount, and its terms when Stripe embedded them. */
  discount: { couponId: string; percentOff: number | null; amountOff: number | null; end: Date | null } | null;
  /** pause_collection: payments paused (no revenue) until resumesAt (null: until resumed). */
  paused: boolean;
  pausedUntil: Date | null;
}

export function snapshotOf(sub: Stripe.Subscription): SubscriptionSnapshot {
  const item = sub.items.data[0];
  // The period end moved from the subscription to its items in recent API versions; read both.
  const periodEnd =
    (item as { current_period_end?: number } | undefined)?.current_period_end ??
    (sub as unknown as { current_period_end?: number }).current_period_end;
  const hint = String(sub.metadata?.member_id ?? '');
  const first = (sub.discounts ?? [])[0];
  const d = first && typeof first === 'object' ? first : null;
  const coupon = d ? d.source?.coupon : null;
  const pause = sub.pause_collection;
  return {
    trialEnd: sub.trial_end ? new Date(sub.trial_end * 1000) : null,
    discount: coupon
      ? {
          couponId: typeof coupon === 'string' ? coupon : coupon.id,
          percentOff: typeof coupon === 'object' ? (coupon.percent_off ?? null) : null,
          amountOff: typeof coupon === 'object' ? (coupon.amount_off ?? null) : null,
          end: d?.end ? new Date(d.end * 1000) : null,
        }
      : null,
    paused: pause !== null && pause !== undefined,
    pausedUntil: pause?.resumes_at ? new Date(pause.resumes_at * 1000) : null,
    id: sub.id,
    customer: typeof sub.customer === 'string' ? sub.customer : sub.customer.id,
    status: sub.status,
    priceId: item?.price.id ?? null,
    currentPeriodEnd: periodEnd ? new Date(periodEnd * 1000) : null,
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    memberIdHint: isId(hint) ? hint : null,
  };
}

/** Brings our copy of a subscription, and the member's tier, in line with Stripe's current state. */
export async function syncSubscription(db: Kysely<Database>, stripe: Stripe, ctx: SiteLinks, subscriptionId: string): Promise<void> {
  // Discounts expanded: their coupons are what the offers and the MRR need.
  const snap = snapshotOf(await stripe.subscriptions.retrieve(subscriptionId, { expand: ['discounts'] }));
  await db.transaction().execute(async (trx) => {
    const member = await trx
      .selectFrom('members')
      .select('id')
      .where((eb) => eb.or([eb('stripe_customer_id', '=', snap.customer), eb('id', '=', snap.memberIdHint ?? '0')]))
      // The customer's member first: the metadata hint only finds a member not yet linked.
      .orderBy(sql`stripe_customer_id = ${snap.customer}`, (ob) => ob.desc().nullsLast())
      .limit(1)
      .forUpdate()
      .executeTakeFirst();
    if (!member) return; // a customer that is not one of our members (made elsewhere in the account)
    await applySubscription(trx, ctx, member.id, snap, { announce: true });
  });
}

export interface ApplyOptions {
  /**
   * Email the member about a change (the paid welcome, the membership's end). Off when
   * existing subscriptions are adopted: those members have been paying all along.
   */
  announce: boolean;
}

/**
 * Stores a subscription for a member (whose row the caller has locked) and sets the member's
 * tier from their entitling subscriptions. Returns whether anything changed: a subscription or a
 * member already in line with Stripe is not written again, so repeating it changes nothing.
 */
export async function applySubscription(
  trx: Transaction<Database>,
  ctx: SiteLinks,
  memberId: string,
  snap: SubscriptionSnapshot,
  options: ApplyOptions,
): Promise<boolean> {
  const member = await trx
    .selectFrom('members')
    .select(['id', 'email', 'status', 'tier_id', 'tier_source', 'stripe_customer_id'])
    .where('id', '=', memberId)
    .executeTakeFirstOrThrow();
  await noteTierBefore(trx, member.id, member.tier_id); // automations: became_paid / paid_ended
  const tier = snap.priceId
    ? await trx
        .selectFrom('tiers')
        .select(['id', 'slug', 'monthly_amount', 'yearly_amount', 'stripe_yearly_price_id'])
        .where((eb) => eb.or([eb('stripe_monthly_price_id', '=', snap.priceId), eb('stripe_yearly_price_id', '=', snap.priceId)]))
        .executeTakeFirst()
    : undefined;
  const previous = await trx
    .selectFrom('subscriptions as s')
    .leftJoin('tiers as t', 't.id', 's.tier_id')
    .select([
      's.tier_id',
      's.status',
      's.price_id',
      's.coupon_id',
      's.paused',
      's.mrr_cents',
      's.trial_end',
      't.slug as tier_slug',
      't.stripe_yearly_price_id',
    ])
    .where('s.stripe_subscription_id', '=', snap.id)
    .executeTakeFirst();
  const interval = !tier ? null : snap.priceId === tier.stripe_yearly_price_id ? ('year' as const) : ('month' as const);
  const offerTerms = snap.discount
    ? await trx
        .selectFrom('offers')
        .select(['percent_off', 'amount_off'])
        .where('stripe_coupon_id', '=', snap.discount.couponId)
        .executeTakeFirst()
    : undefined;
  const discountLive = snap.discount && (snap.discount.end === null || snap.discount.end.getTime() > Date.now());
  const mrr = monthlyRevenue({
    status: snap.status,
    paused: snap.paused,
    unitAmount: !tier ? null : interval === 'year' ? tier.yearly_amount : tier.monthly_amount,
    interval,
    discount: discountLive
      ? {
          percentOff: offerTerms ? (offerTerms.percent_off === null ? null : Number(offerTerms.percent_off)) : snap.discount!.percentOff,
          amountOff: offerTerms ? offerTerms.amount_off : snap.discount!.amountOff,
        }
      : null,
  });
  const row = {
    member_id: member.id,
    tier_id: tier?.id ?? null,
    status: snap.status,
    price_id: snap.priceId,
    current_period_end: snap.currentPeriodEnd,
    cancel_at_period_end: snap.cancelAtPeriodEnd,
    trial_end: snap.trialEnd,
    coupon_id: discountLive ? snap.discount!.couponId : null,
    discount_end: discountLive ? snap.discount!.end : null,
    paused: snap.paused,
    paused_until: snap.pausedUntil,
    mrr_cents: mrr,
    updated_at: new Date(),
  };
  // The update happens only when a field differs, so a row already in line is not rewritten and
  // `returning` tells whether anything was written.
  const written = await trx
    .insertInto('subscriptions')
    .values({ stripe_subscription_id: snap.id, ...row })
    .onConflict((oc) =>
      oc
        .column('stripe_subscription_id')
        .doUpdateSet(row)
        .where(
          sql<boolean>`(subscriptions.member_id, subscriptions.tier_id, subscriptions.status, subscriptions.price_id,
            subscriptions.current_period_end, subscriptions.cancel_at_period_end, subscriptions.trial_end,
            subscriptions.coupon_id, subscriptions.discount_end, subscriptions.paused, subscriptions.paused_until,
            subscriptions.mrr_cents)
            is distinct from (excluded.member_id, excluded.tier_id, excluded.status, excluded.price_id,
            excluded.current_period_end, excluded.cancel_at_period_end, excluded.trial_end,
            excluded.coupon_id, excluded.discount_end, excluded.paused, excluded.paused_until, excluded.mrr_cents)`,
        ),
    )
    // xmax is 0 on a row this statement inserted (not one it updated).
    .returning(sql<boolean>`xmax = 0`.as('inserted'))
    .executeTakeFirst();
  let changed = written !== undefined;
  if (written) {
    await recordMrrMovement(trx, {
      memberId: member.id,
      subscriptionId: snap.id,
      change: {
        fromCents: previous?.mrr_cents ?? 0,
        toCents: mrr,
        previous: previous
          ? {
              status: previous.status,
              tierId: previous.tier_id,
              interval:
                previous.price_id && previous.price_id === previous.stripe_yearly_price_id ? 'year' : previous.price_id ? 'month' : null,
              couponId: previous.coupon_id,
              paused: previous.paused,
            }
          : null,
        next: { status: snap.status, tierId: row.tier_id, interval, couponId: row.coupon_id, paused: snap.paused },
      },
    });
    if (snap.discount) await recordRedemption(trx, { couponId: snap.discount.couponId, subscriptionId: snap.id, memberId: member.id });
    if (snap.status === 'trialing' && snap.trialEnd && previous?.trial_end?.getTime() !== snap.trialEnd.getTime()) {
      // The reminder before the first charge; a moved trial end moves it (the same key replaces the job).
      await enqueue(
        trx,
        'trial_reminder',
        { subscriptionId: snap.id },
        {
          jobKey: `trial-reminder-${snap.id}`,
          runAt: new Date(Math.max(Date.now(), snap.trialEnd.getTime() - TRIAL_REMINDER_DAYS * 86_400_000)),
        },
      );
    }
    const previousInterval =
      previous?.price_id && previous.price_id === previous.stripe_yearly_price_id ? 'year' : previous?.price_id ? 'month' : null;
    if (
      previous &&
      (previous.tier_id !== row.tier_id ||
        previous.price_id !== row.price_id ||
        previousInterval !== interval ||
        previous.status !== row.status)
    ) {
      await emitWebhookEvent(trx, 'subscription.changed', {
        subscription: snap.id,
        member_id: member.id,
        tier: tier?.slug ?? null,
        previous_tier: previous.tier_slug,
        interval,
        previous_interval: previousInterval,
        status: snap.status,
        previous_status: previous.status,
        mrr_cents: mrr,
      });
    }
  }
  if (member.stripe_customer_id === null) {
    // A customer belongs to one member (a unique index): never taken from another.
    const linked = await trx
      .updateTable('members')
      .set({ stripe_customer_id: snap.customer })
      .where('id', '=', member.id)
      .where((eb) =>
        eb.not(eb.exists(eb.selectFrom('members as other').select('other.id').where('other.stripe_customer_id', '=', snap.customer))),
      )
      .executeTakeFirst();
    if (linked.numUpdatedRows > 0n) changed = true;
  }
  // The member's tier is the best of their entitling subscriptions; without one, free again
  // (complimentary access set by staff is left alone).
  const subs = await trx
    .selectFrom('subscriptions')
    .select(['tier_id', 'status', 'current_period_end'])
    .where('member_id', '=', member.id)
    .execute();
  const entitled = subs.find((s) => s.tier_id && entitles(s));
  if (entitled && (member.tier_id !== entitled.tier_id || member.tier_source !== 'stripe')) {
    // Referral reward days still running are kept for after the subscription (referrals/rewards.ts).
    await bankUnusedRewardDays(trx, member.id);
    await trx
      .updateTable('members')
      .set({
        tier_id: entitled.tier_id!,
        tier_source: 'stripe',
        comp_until: null,
        // Paying proves the address; it never re-subscribes someone who left or bounced.
        ...(member.status === 'pending' && options.announce ? { status: 'active' as const } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', member.id)
      .execute();
    const tierRow = await recordStart(trx, member.id, snap, entitled.tier_id!, options);
    if (options.announce) {
      const brand = await brandOf(trx, ctx.siteUrl);
      await queueEmail(
        trx,
        {
          ...(await senderFor(trx, ctx)),
          to: [member.email],
          ...(await automaticEmail(trx, 'paid_welcome', { brand, tierName: tierRow.name, lang: await emailLanguageOf(trx, member.id) })),
          tags: [{ name: 'kind', value: 'paid-welcome' }],
        },
        { idempotencyKey: `paid-welcome-${snap.id}-${entitled.tier_id}` },
      );
    }
    return true;
  }
  if (written?.inserted && !options.announce && row.tier_id && entitles(row)) {
    // Adopted for a member whose tier the import already set (paid via Stripe): the tier stays,
    // and the stats still learn the revenue this subscription brings. Once: the row exists now.
    await recordStart(trx, member.id, snap, row.tier_id, options);
    return true;
  }
  if (!entitled && member.tier_source === 'stripe') {
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
    await startBankedGiftsFor(trx, member.id);
    await recordEvent(trx, member.id, 'subscription_ended', { subscription: snap.id, status: snap.status });
    if (options.announce) {
      const brand = await brandOf(trx, ctx.siteUrl);
      await queueEmail(
        trx,
        {
          ...(await senderFor(trx, ctx)),
          to: [member.email],
          ...(await automaticEmail(trx, 'membership_ended', {
            brand,
            tierName: previous?.name ?? 'paid',
            lang: await emailLanguageOf(trx, member.id),
          })),
          tags: [{ name: 'kind', value: 'membership-ended' }],
        },
        { idempotencyKey: `membership-ended-${snap.id}` },
      );
    }
    return true;
  }
  return changed;
}

/** Records subscription_started with the monthly recurring revenue it brings (yearly prices count a twelfth). */
async function recordStart(
  trx: Transaction<Database>,
  memberId: string,
  snap: SubscriptionSnapshot,
  tierId: string,
  options: ApplyOptions,
) {
  const tierRow = await trx
    .selectFrom('tiers')
    .select(['name', 'monthly_amount', 'yearly_amount', 'stripe_yearly_price_id'])
    .where('id', '=', tierId)
    .executeTakeFirstOrThrow();
  const mrr =
    snap.priceId && snap.priceId === tierRow.stripe_yearly_price_id
      ? Math.round((tierRow.yearly_amount ?? 0) / 12)
      : (tierRow.monthly_amount ?? 0);
  await recordEvent(trx, memberId, 'subscription_started', {
    subscription: snap.id,
    status: snap.status,
    tier_id: tierId,
    mrr_cents: mrr,
    ...(options.announce ? {} : { adopted: true }),
  });
  return tierRow;
}

async function brandOf(db: Kysely<Database>, siteUrl: string) {
  const site = await getSiteSettings(db);
  return emailBrand(db, site, siteUrl);
}
