import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Each change of a subscription's monthly revenue (domain/billing/mrr.ts), written when
    -- Hearth's copy of the subscription changes (from webhooks, always re-read from Stripe).
    -- kind: new (a member's first revenue), expansion, contraction, churn (to 0), reactivation
    -- (revenue again after churn); cause says why (upgrade, downgrade, interval, discount_start,
    -- discount_end, trial_converted, paused, resumed, started, ended).
    create table mrr_movements (
      id bigserial primary key,
      member_id bigint references members (id) on delete set null,
      stripe_subscription_id text not null,
      kind text not null check (kind in ('new', 'expansion', 'contraction', 'churn', 'reactivation')),
      cause text not null,
      from_cents int not null,
      to_cents int not null,
      delta_cents int generated always as (to_cents - from_cents) stored,
      occurred_at timestamptz not null default now()
    );
    create index mrr_movements_occurred_idx on mrr_movements (occurred_at);
    create index mrr_movements_subscription_idx on mrr_movements (stripe_subscription_id, id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table mrr_movements;`.execute(db);
}
