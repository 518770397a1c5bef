import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

/**
 * MRR for subscriptions that predate MRR tracking (0043/0045): their mrr_cents stayed 0 and they
 * had no movement until their next webhook, so the overview under-counted MRR on an upgraded
 * install. Each such paying subscription gets its monthly revenue from its tier's price (yearly
 * prices count a twelfth; a discount known to Hearth as an offer is applied; 0 while trialing or
 * paused), and one movement of kind "new", cause "backfilled", dated when the subscription
 * started (its first subscription_started event, else the row's creation). Idempotent: it only
 * touches subscriptions with no movement at all.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    with revenue as (
      select s.stripe_subscription_id,
             round(greatest(0,
               case when o.amount_off is not null then base.amount - o.amount_off
                    when o.percent_off is not null then base.amount * (1 - o.percent_off / 100.0)
                    else base.amount end
             ) / base.months)::int as cents
        from subscriptions s
        join tiers t on t.id = s.tier_id
        cross join lateral (
          select case when s.price_id = t.stripe_yearly_price_id then t.yearly_amount else t.monthly_amount end as amount,
                 case when s.price_id = t.stripe_yearly_price_id then 12 else 1 end as months
        ) base
        left join offers o on o.stripe_coupon_id = s.coupon_id
       where s.status in ('active', 'past_due') and not s.paused and s.mrr_cents = 0
         and base.amount is not null
         and not exists (select 1 from mrr_movements m where m.stripe_subscription_id = s.stripe_subscription_id)
    )
    update subscriptions s set mrr_cents = r.cents from revenue r
     where r.stripe_subscription_id = s.stripe_subscription_id and r.cents > 0;
  `.execute(db);
  await sql`
    insert into mrr_movements (member_id, stripe_subscription_id, kind, cause, from_cents, to_cents, occurred_at)
    select s.member_id, s.stripe_subscription_id, 'new', 'backfilled', 0, s.mrr_cents,
           coalesce((select min(e.occurred_at) from events e
                      where e.member_id = s.member_id and e.type = 'subscription_started'
                        and e.data->>'subscription' = s.stripe_subscription_id), s.created_at)
      from subscriptions s
     where s.mrr_cents > 0
       and not exists (select 1 from mrr_movements m where m.stripe_subscription_id = s.stripe_subscription_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from mrr_movements where cause = 'backfilled';`.execute(db);
}
