import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moneyOverview } from '../../src/domain/billing/mrr.ts';
import { applySubscription, type SubscriptionSnapshot } from '../../src/domain/billing/subscriptions.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Every MRR movement kind against a hand-computed fixture. Gold: $10.00 a month or $96.00 a year
 * ($8.00 a month); Basic: $5.00 a month. Each step is a subscription state as Stripe would return
 * it, applied as the webhook applies it (applySubscription), and then applied again (a repeated
 * webhook: no movement).
 *
 *   A  1 gold monthly, active                → new            started         +1000
 *   A  2 gold yearly                         → contraction    interval         -200   (1000 → 800)
 *   A  3 50% coupon                          → contraction    discount_start   -400   (800 → 400)
 *   A  4 coupon gone                         → expansion      discount_end     +400
 *   A  5 pause_collection                    → churn          paused           -800
 *   A  6 resumed                             → reactivation   resumed          +800
 *   B  1 basic trialing                      → (nothing: 0 → 0)
 *   B  2 trial converts                      → new            trial_converted  +500
 *   B  3 gold monthly                        → expansion      upgrade          +500
 *   B  4 basic again                         → contraction    downgrade        -500
 *   B  5 canceled                            → churn          ended            -500
 *   B  6 a new basic subscription            → reactivation   started          +500
 *
 *   new +1500 (2) · expansion +900 (2) · contraction -1100 (3) · churn -1300 (2) · reactivation +1300 (2)
 *   net +1300 = MRR now: A 800 + B 500
 */
let t: TestDatabase;
const ids: Record<string, string> = {};
beforeAll(async () => {
  t = await createTestDatabase();
  const tiers = await t.db
    .insertInto('tiers')
    .values([
      {
        slug: 'gold',
        name: 'Gold',
        paid: true,
        currency: 'usd',
        monthly_amount: 1000,
        yearly_amount: 9600,
        stripe_monthly_price_id: 'price_gm',
        stripe_yearly_price_id: 'price_gy',
      },
      { slug: 'basic', name: 'Basic', paid: true, currency: 'usd', monthly_amount: 500, stripe_monthly_price_id: 'price_bm' },
    ])
    .returning(['id', 'slug'])
    .execute();
  for (const tier of tiers) ids[tier.slug] = tier.id;
  await sql`insert into tiers (slug, name) values ('free', 'Free') on conflict do nothing`.execute(t.db);
  const free = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'free').executeTakeFirstOrThrow();
  for (const email of ['a@example.com', 'b@example.com']) {
    const m = await t.db
      .insertInto('members')
      .values({ email, tier_id: free.id, referral_code: email.slice(0, 1) + 'code', status: 'active' })
      .returning('id')
      .executeTakeFirstOrThrow();
    ids[email] = m.id;
  }
  // The retention coupon as an offer: its terms are read from the offer.
  await t.db
    .insertInto('offers')
    .values({
      code: 'HALF',
      kind: 'retention',
      name: 'Half',
      tier_id: ids.gold!,
      percent_off: 50,
      duration: 'repeating',
      duration_months: 3,
      stripe_coupon_id: 'co_half',
      stripe_promotion_code_id: 'promo_half',
    })
    .execute();
});
afterAll(async () => {
  await t?.drop();
});

const base = (id: string, customer: string): SubscriptionSnapshot => ({
  id,
  customer,
  status: 'active',
  priceId: 'price_gm',
  currentPeriodEnd: new Date(Date.now() + 30 * 86_400_000),
  cancelAtPeriodEnd: false,
  memberIdHint: null,
  trialEnd: null,
  discount: null,
  paused: false,
  pausedUntil: null,
});
const ctx = { siteUrl: 'https://news.example.com', mailFrom: 'News <news@example.com>' };
async function apply(email: string, snap: SubscriptionSnapshot) {
  for (let i = 0; i < 2; i++)
    await t.db.transaction().execute((trx) => applySubscription(trx, ctx, ids[email]!, snap, { announce: false }));
}

describe('MRR movements', () => {
  it('records every kind, once each, as hand-computed', async () => {
    const a = base('sub_a', 'cus_a');
    await apply('a@example.com', a);
    await apply('a@example.com', { ...a, priceId: 'price_gy' });
    await apply('a@example.com', {
      ...a,
      priceId: 'price_gy',
      discount: { couponId: 'co_half', percentOff: null, amountOff: null, end: null },
    });
    await apply('a@example.com', { ...a, priceId: 'price_gy' });
    await apply('a@example.com', { ...a, priceId: 'price_gy', paused: true, pausedUntil: new Date(Date.now() + 30 * 86_400_000) });
    await apply('a@example.com', { ...a, priceId: 'price_gy' });

    // Stripe keeps trial_end on the subscription after the trial.
    const b = { ...base('sub_b', 'cus_b'), priceId: 'price_bm', trialEnd: new Date(Date.now() - 1000) };
    await apply('b@example.com', { ...b, status: 'trialing', trialEnd: new Date(Date.now() + 86_400_000) });
    await apply('b@example.com', b);
    await apply('b@example.com', { ...b, priceId: 'price_gm' });
    await apply('b@example.com', b);
    await apply('b@example.com', { ...b, status: 'canceled' });
    await apply('b@example.com', { ...base('sub_b2', 'cus_b'), priceId: 'price_bm' });

    const moves = await t.db
      .selectFrom('mrr_movements')
      .select(['stripe_subscription_id', 'kind', 'cause', 'delta_cents'])
      .orderBy('id')
      .execute();
    expect(moves.map((m) => `${m.stripe_subscription_id} ${m.kind} ${m.cause} ${m.delta_cents}`)).toEqual([
      'sub_a new started 1000',
      'sub_a contraction interval -200',
      'sub_a contraction discount_start -400',
      'sub_a expansion discount_end 400',
      'sub_a churn paused -800',
      'sub_a reactivation resumed 800',
      'sub_b new trial_converted 500',
      'sub_b expansion upgrade 500',
      'sub_b contraction downgrade -500',
      'sub_b churn ended -500',
      'sub_b2 reactivation started 500',
    ]);
    const overview = await moneyOverview(t.db, new Date(Date.now() - 86_400_000), new Date(Date.now() + 60_000));
    expect(overview.movement).toEqual({
      new: { cents: 1500, count: 2 },
      expansion: { cents: 900, count: 2 },
      contraction: { cents: -1100, count: 3 },
      churn: { cents: -1300, count: 2 },
      reactivation: { cents: 1300, count: 2 },
    });
    expect(overview.netCents).toBe(1300);
    expect(overview.mrrCents).toBe(1300);
    // B's trial ended and converted (whatever happened after).
    expect(overview.trials).toEqual({ ended: 1, converted: 1 });
  });
});

describe('subscriptions from before MRR was tracked', () => {
  it('get their revenue and one "new" movement dated when they started, once (0049)', async () => {
    const { up } = await import('../../db/migrations/0049_mrr_backfill.ts');
    const free = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'free').executeTakeFirstOrThrow();
    const member = async (email: string) =>
      (
        await t.db
          .insertInto('members')
          .values({ email, tier_id: free.id, referral_code: email.slice(0, 2) + 'code', status: 'active' })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    const old = (id: string, memberId: string, tier: string, price: string, extra: Record<string, unknown> = {}) =>
      t.db
        .insertInto('subscriptions')
        .values({ stripe_subscription_id: id, member_id: memberId, tier_id: ids[tier]!, status: 'active', price_id: price, ...extra })
        .execute();
    const c = await member('c@example.com');
    const d = await member('d@example.com');
    const e = await member('e@example.com');
    await old('sub_old_yearly', c, 'gold', 'price_gy');
    await old('sub_old_paused', d, 'basic', 'price_bm', { paused: true });
    await old('sub_old_trial', e, 'basic', 'price_bm', { status: 'trialing' });
    const startedAt = new Date('2026-03-01T10:00:00Z');
    await t.db
      .insertInto('events')
      .values({
        member_id: c,
        type: 'subscription_started',
        occurred_at: startedAt,
        data: JSON.stringify({ subscription: 'sub_old_yearly' }),
      })
      .execute();
    await up(t.db);
    await up(t.db); // a second run changes nothing
    const subs = await t.db
      .selectFrom('subscriptions')
      .select(['stripe_subscription_id', 'mrr_cents'])
      .where('stripe_subscription_id', 'like', 'sub_old_%')
      .orderBy('stripe_subscription_id')
      .execute();
    expect(subs).toEqual([
      { stripe_subscription_id: 'sub_old_paused', mrr_cents: 0 },
      { stripe_subscription_id: 'sub_old_trial', mrr_cents: 0 },
      { stripe_subscription_id: 'sub_old_yearly', mrr_cents: 800 },
    ]);
    const moves = await t.db
      .selectFrom('mrr_movements')
      .select(['stripe_subscription_id', 'kind', 'cause', 'delta_cents', 'occurred_at'])
      .where('cause', '=', 'backfilled')
      .execute();
    expect(moves).toEqual([
      { stripe_subscription_id: 'sub_old_yearly', kind: 'new', cause: 'backfilled', delta_cents: 800, occurred_at: startedAt },
    ]);
    // Earlier subscriptions (with movements) are untouched: MRR now is the fixture's 1300 plus 800.
    expect((await moneyOverview(t.db, new Date(0))).mrrCents).toBe(2100);
  });
});
