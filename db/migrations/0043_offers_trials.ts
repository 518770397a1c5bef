import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A tier's free trial may start without a card (Stripe ends it, or cancels it, at its end).
    alter table tiers add column trial_without_card boolean not null default false;

    -- Offers (domain/billing/offers.ts): a Stripe coupon and its promotion code, made before the row.
    -- kind 'link' is shared as /offer/<code>; 'retention' is shown when a member cancels.
    -- status follows Stripe (webhooks re-read the promotion code); expired/exhausted are computed.
    create table offers (
      id bigserial primary key,
      code text not null,
      kind text not null default 'link' check (kind in ('link', 'retention')),
      name text not null check (length(name) between 1 and 100),
      tier_id bigint not null references tiers (id) on delete restrict,
      percent_off numeric(5, 2) check (percent_off > 0 and percent_off <= 100),
      amount_off int check (amount_off > 0),
      currency text,
      duration text not null check (duration in ('once', 'repeating', 'forever')),
      duration_months int check (duration_months between 1 and 36),
      interval text check (interval in ('month', 'year')),
      ends_at timestamptz,
      max_redemptions int check (max_redemptions > 0),
      new_members_only boolean not null default false,
      platforms text[] not null default '{}',
      trial_days int not null default 0 check (trial_days between 0 and 730),
      trial_without_card boolean not null default false,
      status text not null default 'active' check (status in ('active', 'archived')),
      redemptions int not null default 0,
      stripe_coupon_id text not null unique,
      stripe_promotion_code_id text not null unique,
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now(),
      archived_at timestamptz,
      check ((percent_off is null) <> (amount_off is null)),
      check ((duration = 'repeating') = (duration_months is not null))
    );
    create unique index offers_code_key on offers (lower(code));

    -- One redemption per subscription that carried the offer's coupon (from webhooks, so once).
    create table offer_redemptions (
      offer_id bigint not null references offers (id) on delete cascade,
      stripe_subscription_id text primary key,
      member_id bigint not null references members (id) on delete cascade,
      redeemed_at timestamptz not null default now()
    );
    create index offer_redemptions_offer_idx on offer_redemptions (offer_id);

    -- What Hearth keeps of a subscription's money: the trial's end, the coupon on it, a pause,
    -- and the monthly revenue it brings now (after discount; 0 while trialing or paused).
    alter table subscriptions
      add column trial_end timestamptz,
      add column coupon_id text,
      add column discount_end timestamptz,
      add column paused_until timestamptz,
      add column paused boolean not null default false,
      add column mrr_cents int not null default 0,
      add column created_at timestamptz not null default now();
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table subscriptions drop column trial_end, drop column coupon_id, drop column discount_end,
      drop column paused_until, drop column paused, drop column mrr_cents, drop column created_at;
    drop table offer_redemptions; drop table offers;
    alter table tiers drop column trial_without_card;
  `.execute(db);
}
