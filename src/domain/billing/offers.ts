import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database, Offer, OfferKind } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import { idempotencyKey, isMissingInStripe, isStripeError } from '../../lib/stripe.ts';
import { isPlatform } from '../members/sources.ts';
import { callStripe, PaymentsNotConfigured } from './stripe-calls.ts';

/**
 * Offers: a discount on a tier, as a Stripe coupon and its promotion code (the offer's code),
 * made in Stripe before the row exists (staff wait on Stripe; a refusal leaves nothing behind).
 * Readers never wait on Stripe here: the offer page reads our row, and Checkout names the
 * promotion code. The row's state follows Stripe's: promotion_code.updated and coupon.deleted
 * re-read the promotion code (refreshOfferFromStripe); redemptions come from subscriptions that
 * carry the offer's coupon (recordRedemption, from the subscription webhooks).
 */

export interface NewOffer {
  tier: string;
  name: string;
  kind?: OfferKind | undefined;
  percentOff?: number | undefined;
  amountOff?: number | undefined;
  duration: 'once' | 'repeating' | 'forever';
  durationMonths?: number | undefined;
  interval?: 'month' | 'year' | undefined;
  endsAt?: Date | undefined;
  maxRedemptions?: number | undefined;
  newMembersOnly?: boolean | undefined;
  platforms?: string[] | undefined;
  trialDays?: number | undefined;
  trialWithoutCard?: boolean | undefined;
  code?: string | undefined;
  createdBy?: string | null | undefined;
}

/** A refusal by Stripe of a staff request: 400 with Stripe's own reason (anything else: callStripe's 503). */
async function staffStripe<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isStripeError(err) && (err.statusCode === 400 || err.statusCode === 402)) {
      log.warn('stripe refused', { what, message: err.message, requestId: err.requestId });
      throw new ValidationError(`Stripe refused the offer: ${err.message}`, 'stripe_refused');
    }
    return callStripe(what, () => Promise.reject(err), { forStaff: true });
  }
}

/** Stripe promotion codes are letters and digits; ours are upper case, from the offer's name. */
function codeFrom(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]/g, '')
    .toUpperCase()
    .slice(0, 16);
  return `${base || 'OFFER'}${randomBytes(3).toString('hex').toUpperCase()}`;
}

export async function createOffer(db: Kysely<Database>, stripe: Stripe | undefined, input: NewOffer): Promise<Offer> {
  const name = input.name.trim();
  if (!name || name.length > 100) throw new ValidationError('Give the offer a name of 1 to 100 characters.', 'invalid_name');
  const tier = await db.selectFrom('tiers').selectAll().where('slug', '=', input.tier).executeTakeFirst();
  if (!tier) throw new NotFoundError('No such tier.', 'tier_not_found');
  if (!tier.paid || !tier.stripe_product_id) throw new ValidationError('Offers are on paid tiers.', 'free_tier');
  const hasPercent = input.percentOff !== undefined && input.percentOff !== null;
  const hasAmount = input.amountOff !== undefined && input.amountOff !== null;
  if (hasPercent === hasAmount) throw new ValidationError('Give either percent_off or amount_off.', 'invalid_discount');
  if (hasAmount && (!Number.isInteger(input.amountOff) || input.amountOff! < 1))
    throw new ValidationError('amount_off is a whole number of cents, at least 1.', 'invalid_discount');
  if (input.interval && !(input.interval === 'year' ? tier.stripe_yearly_price_id : tier.stripe_monthly_price_id))
    throw new ValidationError(`The tier has no ${input.interval}ly price.`, 'invalid_interval');
  if (hasAmount) {
    // Stripe would take it (the invoice goes to zero); a discount larger than the price is a mistake.
    const prices = [input.interval !== 'year' ? tier.monthly_amount : null, input.interval !== 'month' ? tier.yearly_amount : null].filter(
      (p): p is number => p !== null,
    );
    if (prices.some((p) => input.amountOff! > p))
      throw new ValidationError(`amount_off is larger than the tier's price (${Math.min(...prices)} cents).`, 'invalid_discount');
  }
  if (input.duration === 'repeating' && !input.durationMonths)
    throw new ValidationError('A repeating offer needs duration_months.', 'invalid_duration');
  const platforms = input.platforms ?? [];
  for (const p of platforms) if (!isPlatform(p)) throw new ValidationError(`Unknown platform "${p.slice(0, 40)}".`, 'invalid_platform');
  const trialDays = input.trialDays ?? 0;
  if (!Number.isInteger(trialDays) || trialDays < 0 || trialDays > 730)
    throw new ValidationError('trial_days is from 0 to 730.', 'invalid_trial');
  if (input.endsAt && input.endsAt.getTime() <= Date.now()) throw new ValidationError('ends_at is in the past.', 'invalid_ends_at');
  const code = input.code?.trim().toUpperCase() || codeFrom(name);
  if (!/^[A-Z0-9]{3,40}$/.test(code)) throw new ValidationError('A code is 3 to 40 letters and digits.', 'invalid_code');
  if (
    await db
      .selectFrom('offers')
      .select('id')
      .where(({ fn }) => fn('lower', ['code']), '=', code.toLowerCase())
      .executeTakeFirst()
  )
    throw new ConflictError(`An offer with the code ${code} exists already.`, 'offer_exists');
  if (!stripe) throw new PaymentsNotConfigured();

  const redeemBy = input.endsAt ? Math.floor(input.endsAt.getTime() / 1000) : undefined;
  const couponParams: Stripe.CouponCreateParams = {
    name,
    duration: input.duration,
    ...(input.duration === 'repeating' ? { duration_in_months: input.durationMonths! } : {}),
    ...(hasPercent ? { percent_off: input.percentOff! } : { amount_off: input.amountOff!, currency: tier.currency ?? 'usd' }),
    ...(redeemBy ? { redeem_by: redeemBy } : {}),
    applies_to: { products: [tier.stripe_product_id] },
    metadata: { hearth_offer: code },
  };
  const coupon = await staffStripe('create coupon', () =>
    stripe.coupons.create(couponParams, { idempotencyKey: idempotencyKey(`offer-coupon-${code}`, couponParams) }),
  );
  const promoParams: Stripe.PromotionCodeCreateParams = {
    promotion: { type: 'coupon', coupon: coupon.id },
    code,
    ...(input.maxRedemptions ? { max_redemptions: input.maxRedemptions } : {}),
    ...(redeemBy ? { expires_at: redeemBy } : {}),
    ...(input.newMembersOnly ? { restrictions: { first_time_transaction: true } } : {}),
    metadata: { hearth_offer: code },
  };
  let promo: Stripe.PromotionCode;
  try {
    promo = await staffStripe('create promotion code', () =>
      stripe.promotionCodes.create(promoParams, { idempotencyKey: idempotencyKey(`offer-promo-${code}`, promoParams) }),
    );
  } catch (err) {
    await undoCoupon(stripe, coupon.id);
    throw err;
  }
  try {
    return await db
      .insertInto('offers')
      .values({
        code,
        kind: input.kind ?? 'link',
        name,
        tier_id: tier.id,
        percent_off: hasPercent ? input.percentOff! : null,
        amount_off: hasAmount ? input.amountOff! : null,
        currency: hasAmount ? (tier.currency ?? 'usd') : null,
        duration: input.duration,
        duration_months: input.duration === 'repeating' ? input.durationMonths! : null,
        interval: input.interval ?? null,
        ends_at: input.endsAt ?? null,
        max_redemptions: input.maxRedemptions ?? null,
        new_members_only: input.newMembersOnly ?? false,
        platforms,
        trial_days: trialDays,
        trial_without_card: trialDays > 0 && (input.trialWithoutCard ?? false),
        stripe_coupon_id: coupon.id,
        stripe_promotion_code_id: promo.id,
        created_by: input.createdBy ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    // Nothing half-made: the code stops working in Stripe too.
    await stripe.promotionCodes.update(promo.id, { active: false }).catch(() => undefined);
    await undoCoupon(stripe, coupon.id);
    throw err;
  }
}

async function undoCoupon(stripe: Stripe, couponId: string) {
  try {
    await stripe.coupons.del(couponId);
  } catch (err) {
    log.error('could not delete a coupon after a failed offer; delete it in Stripe', { coupon: couponId, message: (err as Error).message });
  }
}

export async function listOffers(db: Kysely<Database>, options: { includeArchived?: boolean } = {}) {
  let q = db
    .selectFrom('offers as o')
    .innerJoin('tiers as t', 't.id', 'o.tier_id')
    .selectAll('o')
    .select(['t.slug as tier_slug', 't.name as tier_name'])
    .orderBy('o.id', 'desc');
  if (!options.includeArchived) q = q.where('o.status', '=', 'active');
  return q.execute();
}

export async function getOffer(db: Kysely<Database>, id: string) {
  const offer = await db
    .selectFrom('offers as o')
    .innerJoin('tiers as t', 't.id', 'o.tier_id')
    .selectAll('o')
    .select(['t.slug as tier_slug', 't.name as tier_name'])
    .where('o.id', '=', id)
    .executeTakeFirst();
  if (!offer) throw new NotFoundError('No such offer.', 'offer_not_found');
  return offer;
}

export type OfferState = 'active' | 'expired' | 'exhausted' | 'archived';

/** Whether the offer can still be redeemed: archived (by staff or in Stripe), past its end, used up. */
export function offerState(o: Pick<Offer, 'status' | 'ends_at' | 'max_redemptions' | 'redemptions'>, now = Date.now()): OfferState {
  if (o.status === 'archived') return 'archived';
  if (o.ends_at && o.ends_at.getTime() <= now) return 'expired';
  if (o.max_redemptions !== null && o.redemptions >= o.max_redemptions) return 'exhausted';
  return 'active';
}

/** PATCH: the name (Hearth's own), and active (the promotion code in Stripe, staff wait on it). */
export async function updateOffer(
  db: Kysely<Database>,
  stripe: Stripe | undefined,
  id: string,
  patch: { name?: string | undefined; active?: boolean | undefined },
) {
  const offer = await getOffer(db, id);
  const set: { name?: string; status?: 'active' | 'archived'; archived_at?: Date | null } = {};
  if (patch.name !== undefined) {
    const name = patch.name.trim();
    if (!name || name.length > 100) throw new ValidationError('Give the offer a name of 1 to 100 characters.', 'invalid_name');
    set.name = name;
  }
  if (patch.active !== undefined && patch.active !== (offer.status === 'active')) {
    if (!stripe) throw new PaymentsNotConfigured();
    await staffStripe('update promotion code', () =>
      stripe.promotionCodes.update(offer.stripe_promotion_code_id, { active: patch.active! }),
    );
    set.status = patch.active ? 'active' : 'archived';
    set.archived_at = patch.active ? null : new Date();
  }
  if (Object.keys(set).length > 0) await db.updateTable('offers').set(set).where('id', '=', id).execute();
  return getOffer(db, id);
}

/** DELETE: archived (the promotion code made inactive in Stripe); redemptions and stats stay. */
export async function archiveOffer(db: Kysely<Database>, stripe: Stripe | undefined, id: string) {
  return updateOffer(db, stripe, id, { active: false });
}

/** The offer a code names (any case), with its tier; undefined when none. */
export async function offerByCode(db: Kysely<Database>, code: string) {
  if (!/^[A-Za-z0-9]{3,40}$/.test(code)) return undefined;
  return db
    .selectFrom('offers as o')
    .innerJoin('tiers as t', 't.id', 'o.tier_id')
    .selectAll('o')
    .select([
      't.slug as tier_slug',
      't.name as tier_name',
      't.description as tier_description',
      't.monthly_amount',
      't.yearly_amount',
      't.currency as tier_currency',
      't.stripe_monthly_price_id',
      't.stripe_yearly_price_id',
      't.active as tier_active',
    ])
    .where(({ fn }) => fn('lower', ['o.code']), '=', code.toLowerCase())
    .where('o.kind', '=', 'link')
    .executeTakeFirst();
}

/** The price after the discount, in minor units. */
export function discounted(price: number, offer: Pick<Offer, 'percent_off' | 'amount_off'>): number {
  if (offer.amount_off !== null) return Math.max(0, price - offer.amount_off);
  return Math.round(price * (1 - Number(offer.percent_off) / 100));
}

/** "for 3 months", "for the first payment", "for as long as you stay". */
export function durationText(offer: Pick<Offer, 'duration' | 'duration_months'>): string {
  if (offer.duration === 'forever') return 'for as long as you stay';
  if (offer.duration === 'once') return 'on the first payment';
  return offer.duration_months === 1 ? 'for the first month' : `for the first ${offer.duration_months} months`;
}

/** Why a member cannot take an offer (reader pages say it in the reader's language). */
export type OfferRefusal = 'expired' | 'exhausted' | 'archived' | 'platform' | 'new_members' | 'used';

const REFUSAL_TEXT: Record<OfferRefusal, string> = {
  expired: 'This offer has ended.',
  exhausted: 'This offer has been fully claimed.',
  archived: 'This offer is no longer available.',
  platform: 'This offer is for readers who found us elsewhere.',
  new_members: 'This offer is for new paying members.',
  used: 'You have already used this offer.',
};

/**
 * Why this member cannot take the offer, or undefined. Checked before Checkout; Stripe checks the
 * code again (limits, first-time) when the session is made.
 */
export async function offerRefusalReason(
  db: Kysely<Database>,
  offer: Pick<Offer, 'id' | 'status' | 'ends_at' | 'max_redemptions' | 'redemptions' | 'new_members_only' | 'platforms'>,
  memberId: string,
): Promise<OfferRefusal | undefined> {
  const state = offerState(offer);
  if (state !== 'active') return state;
  const member = await db.selectFrom('members').select(['source_platform']).where('id', '=', memberId).executeTakeFirst();
  if (!member) return 'archived';
  if (offer.platforms.length > 0 && !offer.platforms.includes(member.source_platform)) return 'platform';
  if (offer.new_members_only) {
    const paid = await db.selectFrom('subscriptions').select('stripe_subscription_id').where('member_id', '=', memberId).executeTakeFirst();
    if (paid) return 'new_members';
  }
  if (
    await db
      .selectFrom('offer_redemptions')
      .select('offer_id')
      .where('offer_id', '=', offer.id)
      .where('member_id', '=', memberId)
      .executeTakeFirst()
  )
    return 'used';
  return undefined;
}

/**
 * Why this member cannot take the offer, as the checkout's error (409 offer_unavailable), or
 * undefined. The message is English (the API's); the error carries the reason's code as
 * `refusal`, which reader pages translate (web/reader-errors.ts), never the English words.
 */
export async function offerRefusal(
  db: Kysely<Database>,
  offer: Parameters<typeof offerRefusalReason>[1],
  memberId: string,
): Promise<ConflictError | undefined> {
  const reason = await offerRefusalReason(db, offer, memberId);
  return reason && new ConflictError(REFUSAL_TEXT[reason], 'offer_unavailable').with({ refusal: reason });
}

/**
 * A subscription carries an offer's coupon: one redemption per subscription (webhooks repeat).
 * Returns whether it was new.
 */
export async function recordRedemption(
  db: Kysely<Database>,
  input: { couponId: string; subscriptionId: string; memberId: string },
): Promise<boolean> {
  const offer = await db.selectFrom('offers').select('id').where('stripe_coupon_id', '=', input.couponId).executeTakeFirst();
  if (!offer) return false;
  const inserted = await db
    .insertInto('offer_redemptions')
    .values({ offer_id: offer.id, stripe_subscription_id: input.subscriptionId, member_id: input.memberId })
    .onConflict((oc) => oc.column('stripe_subscription_id').doNothing())
    .returning('offer_id')
    .executeTakeFirst();
  if (!inserted) return false;
  await db
    .updateTable('offers')
    .set((eb) => ({ redemptions: eb('redemptions', '+', 1) }))
    .where('id', '=', offer.id)
    .execute();
  return true;
}

/**
 * promotion_code.updated / coupon.deleted: the offer's status re-read from Stripe (never from the
 * event's body), so events in any order or repeated converge.
 */
export async function refreshOfferFromStripe(
  db: Kysely<Database>,
  stripe: Stripe,
  ids: { promotionCodeId?: string | undefined; couponId?: string | undefined },
): Promise<void> {
  const offer = await db
    .selectFrom('offers')
    .select(['id', 'status', 'stripe_promotion_code_id', 'stripe_coupon_id'])
    .where((eb) =>
      eb.or([eb('stripe_promotion_code_id', '=', ids.promotionCodeId ?? '-'), eb('stripe_coupon_id', '=', ids.couponId ?? '-')]),
    )
    .executeTakeFirst();
  if (!offer) return;
  let active: boolean;
  try {
    const [promo, coupon] = await Promise.all([
      stripe.promotionCodes.retrieve(offer.stripe_promotion_code_id),
      stripe.coupons.retrieve(offer.stripe_coupon_id),
    ]);
    active = promo.active && coupon.valid !== false;
  } catch (err) {
    if (!isMissingInStripe(err)) throw err;
    active = false; // the coupon (or code) was deleted in Stripe
  }
  const status = active ? 'active' : 'archived';
  if (status !== offer.status)
    await db
      .updateTable('offers')
      .set({ status, archived_at: active ? null : new Date() })
      .where('id', '=', offer.id)
      .execute();
}
