import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { automaticEmail } from '../emails/emails.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { senderFor } from '../newsletters/sender.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { emailLanguageOf } from '../members/language.ts';
import { formatDate, formatMoney } from '../../lib/i18n.ts';

/**
 * The trial_reminder job (queued by applySubscription when a trial starts or moves, key
 * trial-reminder-<subscription>, TRIAL_REMINDER_DAYS before its end): one email before the first
 * charge, only while our copy still says trialing with that end. Its idempotency key holds the
 * trial's end, so a retried job is one email and a moved trial gets its own.
 */
export async function sendTrialReminder(db: Kysely<Database>, ctx: SiteLinks, subscriptionId: string): Promise<boolean> {
  const sub = await db
    .selectFrom('subscriptions as s')
    .innerJoin('members as m', 'm.id', 's.member_id')
    .leftJoin('tiers as t', 't.id', 's.tier_id')
    .select([
      's.status',
      's.trial_end',
      's.price_id',
      'm.email',
      'm.id as member_id',
      't.name',
      't.monthly_amount',
      't.yearly_amount',
      't.currency',
      't.stripe_yearly_price_id',
    ])
    .where('s.stripe_subscription_id', '=', subscriptionId)
    .executeTakeFirst();
  if (!sub || sub.status !== 'trialing' || !sub.trial_end || sub.trial_end.getTime() < Date.now()) return false;
  const yearly = sub.price_id !== null && sub.price_id === sub.stripe_yearly_price_id;
  const minor = (yearly ? sub.yearly_amount : sub.monthly_amount) ?? 0;
  const site = await getSiteSettings(db);
  const lang = await emailLanguageOf(db, sub.member_id);
  const amount = formatMoney(lang, minor, sub.currency ?? 'usd');
  const trialEnd = formatDate(lang, sub.trial_end, site.timeZone);
  // Whether a card is on file is Stripe's to know; the offer or tier said whether one was asked for.
  const offer = await db
    .selectFrom('offers as o')
    .innerJoin('subscriptions as s', 's.coupon_id', 'o.stripe_coupon_id')
    .select('o.trial_without_card')
    .where('s.stripe_subscription_id', '=', subscriptionId)
    .executeTakeFirst();
  const tier = await db
    .selectFrom('tiers as t')
    .innerJoin('subscriptions as s', 's.tier_id', 't.id')
    .select('t.trial_without_card')
    .where('s.stripe_subscription_id', '=', subscriptionId)
    .executeTakeFirst();
  const withCard = !(offer?.trial_without_card ?? tier?.trial_without_card ?? false);
  await queueEmail(
    db,
    {
      ...(await senderFor(db, ctx)),
      to: [sub.email],
      ...(await automaticEmail(db, 'trial_reminder', {
        lang,
        brand: await emailBrand(db, site, ctx.siteUrl),
        tierName: sub.name ?? 'paid',
        trialEnd,
        amount,
        withCard,
      })),
      tags: [{ name: 'kind', value: 'trial-ending' }],
    },
    { idempotencyKey: `trial-reminder-${subscriptionId}-${sub.trial_end.getTime()}` },
  );
  return true;
}
