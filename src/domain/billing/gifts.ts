import { sql, type Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../../../db/types.ts';
import { automaticEmail } from '../emails/emails.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { enqueue } from '../../lib/queue.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { idempotencyKey, isStripeError } from '../../lib/stripe.ts';
import { hashToken, randomToken } from '../../lib/tokens.ts';
import { recordEvent } from '../members/events.ts';
import { senderFor } from '../newsletters/sender.ts';
import { grantCompDays } from '../referrals/rewards.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { callStripe, PaymentsNotConfigured } from './stripe-calls.ts';
import { emailLanguageOf } from '../members/language.ts';
import { formatDate, isLanguage, t } from '../../lib/i18n.ts';

/**
 * Gift subscriptions: 1, 3, 6 or 12 months of a tier, paid once through Checkout (payment mode).
 *
 *   POST /gift ── startGiftCheckout: gifts row (pending) → Checkout Session → Stripe
 *   webhook checkout.session.completed ── re-read the session → paid; receipt to the buyer;
 *       job gift_delivery at deliver_on (job key gift-delivery-<id>)
 *   gift_delivery ── a new redeem token (only its hash kept) → email to the recipient (automatic email 'gift'),
 *       or to the buyer to hand over when there is no recipient ('gift_buyer', its own text)
 *   POST /gift/redeem ── token → complimentary days, stacking as referral rewards do
 *
 * The token exists only in the email: a resend makes a new one (the old link stops working).
 */

export const GIFT_MONTHS = [1, 3, 6, 12] as const;
/** A month of a gift, in days (what the complimentary access counts). */
export const GIFT_MONTH_DAYS = 30;

export interface NewGift {
  tier: string;
  months: number;
  buyerEmail?: string | undefined;
  recipientEmail?: string | undefined;
  message?: string | undefined;
  /** YYYY-MM-DD, today or later (UTC); today when absent. */
  deliverOn?: string | undefined;
  /** The language of the page the gift was bought on (ISO 639-1): its emails are written in it. */
  language?: string | undefined;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The price of a gift: months × the monthly price, or the yearly price for 12 months when there is one. */
export function giftAmount(tier: { monthly_amount: number | null; yearly_amount: number | null }, months: number): number | null {
  if (months === 12 && tier.yearly_amount !== null) return tier.yearly_amount;
  if (tier.monthly_amount !== null) return tier.monthly_amount * months;
  return null;
}

/** A Checkout Session (payment mode) for a gift; returns its URL. The reader waits only on this redirect. */
export async function startGiftCheckout(db: Kysely<Database>, stripe: Stripe | undefined, ctx: SiteLinks, input: NewGift): Promise<string> {
  if (!(GIFT_MONTHS as readonly number[]).includes(input.months))
    throw new ValidationError('A gift is 1, 3, 6 or 12 months.', 'invalid_months');
  const tier = await db
    .selectFrom('tiers')
    .selectAll()
    .where('slug', '=', input.tier)
    .where('paid', '=', true)
    .where('active', '=', true)
    .executeTakeFirst();
  if (!tier) throw new ValidationError('Choose one of the paid tiers.', 'unknown_tier');
  const amount = giftAmount(tier, input.months);
  if (amount === null) throw new ValidationError('That tier cannot be given for this many months.', 'months_for_tier');
  const recipient = input.recipientEmail?.trim().toLowerCase() || null;
  if (recipient && (!EMAIL.test(recipient) || recipient.length > 254))
    throw new ValidationError('The recipient address does not look right.', 'invalid_recipient_email');
  const buyer = input.buyerEmail?.trim().toLowerCase() || null;
  if (buyer && !EMAIL.test(buyer)) throw new ValidationError('Your address does not look right.', 'invalid_email');
  const message = (input.message ?? '').trim();
  if (message.length > 1000) throw new ValidationError('The message is at most 1,000 characters.', 'invalid_message');
  const deliverOn = input.deliverOn?.trim() || today();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(deliverOn) || Number.isNaN(Date.parse(deliverOn)))
    throw new ValidationError('The delivery date is a date (YYYY-MM-DD).', 'invalid_date');
  if (deliverOn < today()) throw new ValidationError('The delivery date is in the past.', 'date_in_past');
  if (Date.parse(deliverOn) > Date.now() + 366 * 86_400_000)
    throw new ValidationError('The delivery date is within a year.', 'date_too_far');
  if (!stripe) throw new PaymentsNotConfigured();
  const gift = await db
    .insertInto('gifts')
    .values({
      tier_id: tier.id,
      months: input.months,
      amount,
      currency: tier.currency ?? 'usd',
      buyer_email: buyer,
      recipient_email: recipient,
      message,
      deliver_on: deliverOn,
      ...(input.language && isLanguage(input.language) ? { locale: input.language } : {}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // The line Stripe's payment page shows, in the language of the page the gift is bought on.
  const product = t(
    input.language && isLanguage(input.language) ? input.language : await emailLanguageOf(db, null),
    'reader.gift.product',
    {
      months: input.months,
      tier: tier.name,
    },
  );
  const params: Stripe.Checkout.SessionCreateParams = {
    mode: 'payment',
    line_items: [
      {
        price_data: { currency: tier.currency ?? 'usd', unit_amount: amount, product_data: { name: product } },
        quantity: 1,
      },
    ],
    ...(buyer ? { customer_email: buyer } : {}),
    client_reference_id: `gift-${gift.id}`,
    metadata: { gift_id: gift.id },
    payment_intent_data: { metadata: { gift_id: gift.id } },
    success_url: `${ctx.siteUrl}/gift?paid=1`,
    cancel_url: `${ctx.siteUrl}/gift?cancelled=1`,
  };
  const session = await callStripe('create gift checkout session', () =>
    stripe.checkout.sessions.create(params, { idempotencyKey: idempotencyKey(`gift-${gift.id}`, params) }),
  );
  await db.updateTable('gifts').set({ stripe_session_id: session.id }).where('id', '=', gift.id).execute();
  if (!session.url)
    throw new ValidationError('Our payment provider did not open a payment page. Please try again.', 'payments_unavailable');
  return session.url;
}

/**
 * The language of a gift's emails: a recipient who is a member with a language of their own gets
 * theirs; otherwise the language of the page the gift was bought on (gifts.locale), else the site's.
 */
async function giftLanguage(db: Kysely<Database>, locale: string, recipient: string | null): Promise<string> {
  if (recipient) {
    const member = await db
      .selectFrom('members')
      .select('language')
      // lower(email): the form of the unique index (recipient addresses are stored lower-cased).
      .where(sql<string>`lower(email)`, '=', recipient.toLowerCase())
      .executeTakeFirst();
    if (member?.language && isLanguage(member.language)) return member.language;
  }
  return isLanguage(locale) ? locale : emailLanguageOf(db, null);
}

async function brandOf(db: Kysely<Database>, siteUrl: string) {
  const site = await getSiteSettings(db);
  return emailBrand(db, site, siteUrl);
}

/** When a gift's delivery job runs: now for today (or a past date), 08:00 UTC on a later date. */
function deliveryTime(deliverOn: Date): Date {
  return deliverOn.getTime() <= Date.now() ? new Date() : new Date(deliverOn.getTime() + 8 * 3_600_000);
}

/**
 * checkout.session.completed (payment mode) and charge.refunded. The session is re-read from
 * Stripe; a gift moves forward only (pending → paid), so repeated or late events change nothing.
 */
export async function handleGiftEvent(
  db: Kysely<Database>,
  stripe: Stripe,
  ctx: SiteLinks,
  type: string,
  object: Record<string, unknown>,
): Promise<void> {
  if (type === 'charge.refunded') {
    const pi = String(object.payment_intent ?? '');
    if (pi)
      await db
        .updateTable('gifts')
        .set({ status: 'refunded', refunded_at: new Date(), token_hash: null })
        .where('stripe_payment_intent_id', '=', pi)
        .where('status', 'in', ['pending', 'paid', 'delivered'])
        .execute();
    return;
  }
  const session = await stripe.checkout.sessions.retrieve(String(object.id));
  const giftId = session.metadata?.gift_id;
  if (!giftId || session.payment_status !== 'paid') return;
  await db.transaction().execute(async (trx) => {
    const gift = await trx
      .updateTable('gifts')
      .set({
        status: 'paid',
        paid_at: new Date(),
        stripe_payment_intent_id:
          typeof session.payment_intent === 'string' ? session.payment_intent : (session.payment_intent?.id ?? null),
        buyer_email: sql<string>`coalesce(buyer_email, ${session.customer_details?.email ?? null})`,
      })
      .where('id', '=', giftId)
      .where('status', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
    if (!gift) return; // paid already (a repeated event), or refunded
    const tier = await trx.selectFrom('tiers').select('name').where('id', '=', gift.tier_id).executeTakeFirstOrThrow();
    await enqueue(trx, 'gift_delivery', { giftId: gift.id }, { jobKey: `gift-delivery-${gift.id}`, runAt: deliveryTime(gift.deliver_on) });
    if (gift.buyer_email) {
      const brand = await brandOf(trx, ctx.siteUrl);
      const lang = await giftLanguage(trx, gift.locale, null);
      await queueEmail(
        trx,
        {
          ...(await senderFor(trx, ctx)),
          to: [gift.buyer_email],
          ...(await automaticEmail(trx, 'gift_receipt', {
            lang,
            brand,
            tierName: tier.name,
            months: gift.months,
            deliverOn: formatDate(lang, gift.deliver_on, 'UTC'),
            recipient: gift.recipient_email,
          })),
          tags: [{ name: 'kind', value: 'gift-receipt' }],
        },
        { idempotencyKey: `gift-receipt-${gift.id}` },
      );
    }
  });
}

/**
 * The gift_delivery job (and staff's resend): a new redeem token, its hash stored, the link
 * emailed to the recipient (or the buyer). A gift redeemed or refunded is not sent.
 */
export async function deliverGift(
  db: Kysely<Database>,
  ctx: SiteLinks,
  giftId: string,
  options: { resend?: boolean } = {},
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const gift = await trx
      .selectFrom('gifts as g')
      .innerJoin('tiers as t', 't.id', 'g.tier_id')
      .selectAll('g')
      .select('t.name as tier_name')
      .where('g.id', '=', giftId)
      .forUpdate()
      .executeTakeFirst();
    if (!gift) return false;
    if (gift.status !== 'paid' && !(options.resend && gift.status === 'delivered')) return false;
    const to = gift.recipient_email ?? gift.buyer_email;
    if (!to) {
      log.warn('gift has no address to deliver to', { gift: gift.id });
      return false;
    }
    const token = randomToken();
    const sent = (gift.delivered_at?.getTime() ?? 0) + (options.resend ? Date.now() : 0);
    await trx
      .updateTable('gifts')
      .set({ status: 'delivered', delivered_at: new Date(), token_hash: hashToken(token) })
      .where('id', '=', gift.id)
      .execute();
    const email = {
      lang: await giftLanguage(trx, gift.locale, gift.recipient_email),
      brand: await brandOf(trx, ctx.siteUrl),
      tierName: gift.tier_name,
      months: gift.months,
      message: gift.message,
      redeemUrl: `${ctx.siteUrl}/gift/redeem?token=${encodeURIComponent(token)}`,
    };
    await queueEmail(
      trx,
      {
        ...(await senderFor(trx, ctx)),
        to: [to],
        ...(gift.recipient_email
          ? await automaticEmail(trx, 'gift', { ...email, forBuyer: false })
          : // The buyer hands the link over: their own email (and staff's text for it), not the recipient's.
            await automaticEmail(trx, 'gift_buyer', email)),
        tags: [{ name: 'kind', value: 'gift' }],
      },
      { idempotencyKey: `gift-${gift.id}-${sent}` },
    );
    return true;
  });
}

/** The gift a redeem token names (for the page), or undefined. Looked up by the token's hash. */
export async function giftByToken(db: Kysely<Database>, token: string) {
  if (!token || token.length > 100) return undefined;
  return db
    .selectFrom('gifts as g')
    .innerJoin('tiers as t', 't.id', 'g.tier_id')
    .select(['g.id', 'g.months', 'g.message', 'g.status', 'g.redeemed_by', 'g.tier_id', 't.name as tier_name'])
    .where('g.token_hash', '=', hashToken(token))
    .executeTakeFirst();
}

/**
 * Redeems a gift for a member: its days as complimentary access, stacking as referral rewards do
 * (rewards.ts grantCompDays): on the free tier from now, on the same complimentary tier after its
 * end; otherwise (paying, or complimentary on another tier) the days wait and start when that
 * access ends. Single use: the gift row is locked and moves to redeemed once.
 */
export async function redeemGift(
  db: Kysely<Database>,
  token: string,
  memberId: string,
): Promise<{ compUntil: Date | null; bankedDays: number; tierName: string }> {
  return db.transaction().execute(async (trx) => {
    const found = await giftByToken(trx, token);
    if (!found)
      throw new NotFoundError('This gift link is not valid. If it came in an email, ask the sender to resend it.', 'gift_not_found');
    const gift = await trx.selectFrom('gifts').selectAll().where('id', '=', found.id).forUpdate().executeTakeFirstOrThrow();
    if (gift.status === 'redeemed')
      throw new ConflictError(
        gift.redeemed_by === memberId ? 'You have already redeemed this gift.' : 'This gift has already been redeemed.',
        'gift_redeemed',
      );
    if (gift.status === 'refunded') throw new ConflictError('This gift was refunded and can no longer be redeemed.', 'gift_refunded');
    if (gift.status !== 'delivered') throw new ConflictError('This gift is not ready yet.', 'gift_not_ready');
    await trx.selectFrom('members').select('id').where('id', '=', memberId).forUpdate().executeTakeFirstOrThrow();
    const days = gift.months * GIFT_MONTH_DAYS;
    const until = await grantCompDays(trx, memberId, gift.tier_id, days);
    await trx
      .updateTable('gifts')
      .set({ status: 'redeemed', redeemed_by: memberId, redeemed_at: new Date(), comp_until: until, banked_days: until ? 0 : days })
      .where('id', '=', gift.id)
      .execute();
    await recordEvent(trx, memberId, 'status_changed', {
      gift: gift.id,
      tier_id: gift.tier_id,
      ...(until ? { comp_until: until.toISOString() } : { banked_days: days }),
    });
    return { compUntil: until, bankedDays: until ? 0 : days, tierName: found.tier_name };
  });
}

/** Banked gift days that now fit start (the member's paid or other access ended). The caller holds the member's lock. */
export async function startBankedGiftsFor(db: Kysely<Database>, memberId: string): Promise<number> {
  const banked = await db
    .selectFrom('gifts')
    .select(['id', 'tier_id', 'banked_days'])
    .where('redeemed_by', '=', memberId)
    .where('status', '=', 'redeemed')
    .where('banked_days', '>', 0)
    .orderBy('redeemed_at')
    .execute();
  let started = 0;
  for (const g of banked) {
    const until = await grantCompDays(db, memberId, g.tier_id, g.banked_days);
    if (!until) break;
    await db.updateTable('gifts').set({ banked_days: 0, comp_until: until }).where('id', '=', g.id).execute();
    started++;
  }
  return started;
}

/** Staff: gifts not redeemed yet (paid, delivered), newest first. */
export async function listOpenGifts(db: Kysely<Database>) {
  return db
    .selectFrom('gifts as g')
    .innerJoin('tiers as t', 't.id', 'g.tier_id')
    .select([
      'g.id',
      'g.months',
      'g.amount',
      'g.currency',
      'g.buyer_email',
      'g.recipient_email',
      'g.deliver_on',
      'g.status',
      'g.delivered_at',
      't.name as tier_name',
    ])
    .where('g.status', 'in', ['paid', 'delivered'])
    .orderBy('g.id', 'desc')
    .limit(500)
    .execute();
}

/** Staff: refund an unredeemed gift through Stripe (staff wait on it); the link stops working. */
export async function refundGift(db: Kysely<Database>, stripe: Stripe | undefined, giftId: string): Promise<void> {
  if (!stripe) throw new PaymentsNotConfigured();
  const gift = await db
    .selectFrom('gifts')
    .select(['id', 'status', 'stripe_payment_intent_id'])
    .where('id', '=', giftId)
    .executeTakeFirst();
  if (!gift) throw new NotFoundError('No such gift.', 'gift_not_found');
  if (gift.status === 'redeemed')
    throw new ConflictError('This gift was redeemed already; end the access from the member instead.', 'gift_redeemed');
  if (gift.status === 'refunded') return;
  if (!gift.stripe_payment_intent_id) throw new ConflictError('This gift was never paid.', 'gift_not_paid');
  const pi = gift.stripe_payment_intent_id;
  try {
    await stripe.refunds.create({ payment_intent: pi, metadata: { gift_id: gift.id } }, { idempotencyKey: `gift-refund-${gift.id}` });
  } catch (err) {
    if (!(isStripeError(err) && err.code === 'charge_already_refunded')) {
      await callStripe('refund gift', () => Promise.reject(err), { forStaff: true });
    }
  }
  await db
    .updateTable('gifts')
    .set({ status: 'refunded', refunded_at: new Date(), token_hash: null })
    .where('id', '=', gift.id)
    .where('status', 'in', ['pending', 'paid', 'delivered'])
    .execute();
}

/** The hourly job: banked gift days of members back on the free tier (a complimentary access expired) start now. */
export async function startAllBankedGifts(db: Kysely<Database>): Promise<number> {
  const members = await db
    .selectFrom('gifts as g')
    .innerJoin('members as m', 'm.id', 'g.redeemed_by')
    .select('m.id')
    .distinct()
    .where('g.status', '=', 'redeemed')
    .where('g.banked_days', '>', 0)
    .where('m.tier_source', '=', 'default')
    .limit(1000)
    .execute();
  let started = 0;
  for (const { id } of members) {
    started += await db.transaction().execute(async (trx) => {
      await trx.selectFrom('members').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
      return startBankedGiftsFor(trx, id);
    });
  }
  return started;
}
