import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One row per referred member: who referred them, and whether the referral counts.
    -- pending: not confirmed yet; counted: confirmed and clean; held: confirmed but flagged by a
    -- fraud guard, waiting for staff; rejected: staff said no. Deleting either member deletes it.
    create table referrals (
      referred_id bigint primary key references members (id) on delete cascade,
      referrer_id bigint not null references members (id) on delete cascade,
      status text not null default 'pending' check (status in ('pending', 'counted', 'held', 'rejected')),
      flag text check (flag in ('self', 'network', 'device', 'quick_unsubscribe')),
      flag_detail text,
      -- HMACs (under APP_SECRET) of the subscriber's /24 or /48 network and of a coarse browser
      -- class: enough to see a burst, never an address. Cleared after 30 days.
      network_hash text,
      device_hash text,
      created_at timestamptz not null default now(),
      confirmed_at timestamptz,
      counted_at timestamptz,
      reviewed_at timestamptz,
      reviewed_by bigint references staff_users (id) on delete set null,
      check (referred_id <> referrer_id)
    );
    create index referrals_referrer_idx on referrals (referrer_id, status);
    -- The burst guards count a referrer's recent referrals from one network or browser class.
    create index referrals_network_idx on referrals (referrer_id, network_hash, created_at) where network_hash is not null;
    create index referrals_device_idx on referrals (referrer_id, device_hash, created_at) where device_hash is not null;
    create index referrals_held_idx on referrals (confirmed_at) where status = 'held';
    create index referrals_counted_idx on referrals (counted_at) where status = 'counted';

    -- Referrals made before this table existed: members whose first touch carried a member's code.
    insert into referrals (referred_id, referrer_id, status, created_at, confirmed_at, counted_at)
    select m.id, r.id,
           case when m.confirmed_at is not null then 'counted' else 'pending' end,
           m.created_at, m.confirmed_at, m.confirmed_at
    from members m join members r on r.referral_code = lower(m.ref)
    where m.ref is not null and r.id <> m.id;

    -- What staff offer: at N counted referrals, complimentary days of a tier, or a manual reward
    -- (a sticker, a call) that staff mark fulfilled.
    create table referral_milestones (
      id bigint generated always as identity primary key,
      threshold int not null check (threshold between 1 and 100000),
      description text not null check (length(description) between 1 and 200),
      reward text not null check (reward in ('comp', 'manual')),
      tier_id bigint references tiers (id) on delete restrict,
      comp_days int check (comp_days between 1 and 3660),
      created_at timestamptz not null default now(),
      archived_at timestamptz,
      check ((reward = 'comp') = (tier_id is not null and comp_days is not null))
    );
    create unique index referral_milestones_threshold_key on referral_milestones (threshold) where archived_at is null;

    -- A milestone a member reached, once: the unique key makes two concurrent confirmations award
    -- it once. comp: applied (comp_until moved) or banked (days waiting for the member's paid or
    -- other complimentary access to end); manual: to_fulfil until staff mark it fulfilled.
    create table referral_rewards (
      id bigint generated always as identity primary key,
      member_id bigint not null references members (id) on delete cascade,
      milestone_id bigint not null references referral_milestones (id) on delete restrict,
      referrals int not null,
      status text not null check (status in ('applied', 'banked', 'to_fulfil', 'fulfilled')),
      tier_id bigint references tiers (id) on delete set null,
      comp_days int,
      banked_days int not null default 0,
      comp_until timestamptz,
      created_at timestamptz not null default now(),
      fulfilled_at timestamptz,
      fulfilled_by bigint references staff_users (id) on delete set null,
      unique (member_id, milestone_id)
    );
    create index referral_rewards_open_idx on referral_rewards (status, created_at) where status in ('banked', 'to_fulfil');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table referral_rewards, referral_milestones, referrals;`.execute(db);
}
