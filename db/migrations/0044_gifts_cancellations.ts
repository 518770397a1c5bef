import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Gift subscriptions (domain/billing/gifts.ts): bought through Checkout in payment mode.
    -- pending: Checkout opened; paid: payment seen (webhook); delivered: the redeem link was sent;
    -- redeemed; refunded. token_hash is a SHA-256 of the redeem token (the token is only in emails).
    create table gifts (
      id bigserial primary key,
      tier_id bigint not null references tiers (id) on delete restrict,
      months int not null check (months in (1, 3, 6, 12)),
      amount int not null check (amount > 0),
      currency text not null,
      buyer_email text,
      recipient_email text,
      message text not null default '' check (length(message) <= 1000),
      deliver_on date not null,
      locale text not null default 'en',
      status text not null default 'pending' check (status in ('pending', 'paid', 'delivered', 'redeemed', 'refunded')),
      token_hash text unique,
      stripe_session_id text unique,
      stripe_payment_intent_id text,
      redeemed_by bigint references members (id) on delete set null,
      redeemed_at timestamptz,
      -- Redeemed while the member had other access (paying, or complimentary on another tier): the
      -- days wait, as referral reward days do (referrals/rewards.ts), and start when that access ends.
      banked_days int not null default 0,
      comp_until timestamptz,
      paid_at timestamptz,
      delivered_at timestamptz,
      refunded_at timestamptz,
      created_at timestamptz not null default now()
    );
    create index gifts_open_idx on gifts (status) where status in ('paid', 'delivered');

    -- Why members cancel (the account page's question), and what they did.
    create table cancellations (
      id bigserial primary key,
      member_id bigint references members (id) on delete set null,
      stripe_subscription_id text not null,
      reason text not null check (reason in ('too_expensive', 'not_reading', 'missing_features', 'switched', 'temporary', 'other')),
      comment text not null default '' check (length(comment) <= 2000),
      outcome text not null check (outcome in ('cancelled', 'retained', 'paused')),
      offer_id bigint references offers (id) on delete set null,
      created_at timestamptz not null default now()
    );
    create index cancellations_created_idx on cancellations (created_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table cancellations; drop table gifts;`.execute(db);
}
