import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table members add column stripe_customer_id text;
    create unique index members_stripe_customer_key on members (stripe_customer_id) where stripe_customer_id is not null;

    -- Our copy of each Stripe subscription, always re-read from Stripe (never trusted from an
    -- event's body), so events may arrive twice or in any order.
    create table subscriptions (
      stripe_subscription_id text primary key,
      member_id bigint not null references members (id) on delete cascade,
      tier_id bigint references tiers (id) on delete set null,
      status text not null,
      price_id text,
      current_period_end timestamptz,
      cancel_at_period_end boolean not null default false,
      updated_at timestamptz not null default now()
    );
    create index subscriptions_member_idx on subscriptions (member_id);

    -- Each Stripe event id once: a replayed webhook is acknowledged and ignored.
    create table stripe_events (
      id text primary key,
      type text not null,
      received_at timestamptz not null default now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table stripe_events, subscriptions; alter table members drop column stripe_customer_id;`.execute(db);
}
