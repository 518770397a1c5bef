import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table staff_users (
      id bigint generated always as identity primary key,
      email text not null,
      name text not null default '',
      password_hash text not null,
      role text not null check (role in ('owner', 'admin', 'editor', 'moderator')),
      created_at timestamptz not null default now(),
      disabled_at timestamptz
    );
    create unique index staff_users_email_key on staff_users (lower(email));

    create table staff_sessions (
      id bigint generated always as identity primary key,
      token_hash text not null unique,
      staff_user_id bigint not null references staff_users (id) on delete cascade,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null
    );
    create index staff_sessions_user_idx on staff_sessions (staff_user_id);

    create table api_tokens (
      id bigint generated always as identity primary key,
      staff_user_id bigint not null references staff_users (id) on delete cascade,
      name text not null,
      token_hash text not null unique,
      token_prefix text not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    );
    create index api_tokens_user_idx on api_tokens (staff_user_id);

    create table settings (
      key text primary key,
      value jsonb not null,
      updated_at timestamptz not null default now()
    );

    create table newsletters (
      id bigint generated always as identity primary key,
      slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      name text not null,
      description text not null default '',
      is_default boolean not null default false,
      sort_order integer not null default 0,
      created_at timestamptz not null default now()
    );

    create table tiers (
      id bigint generated always as identity primary key,
      slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      name text not null,
      description text not null default '',
      paid boolean not null default false,
      monthly_amount integer check (monthly_amount >= 0),
      yearly_amount integer check (yearly_amount >= 0),
      currency text check (currency ~ '^[a-z]{3}$'),
      trial_days integer not null default 0 check (trial_days >= 0),
      active boolean not null default true,
      stripe_product_id text,
      stripe_monthly_price_id text,
      stripe_yearly_price_id text,
      created_at timestamptz not null default now(),
      check (not paid or (currency is not null and (monthly_amount is not null or yearly_amount is not null)))
    );
    insert into tiers (slug, name, description, paid) values ('free', 'Free', 'Public posts and the newsletter.', false);

    create table members (
      id bigint generated always as identity primary key,
      email text not null,
      name text,
      status text not null default 'pending'
        check (status in ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
      tier_id bigint not null references tiers (id),
      source_platform text not null default 'direct',
      utm_source text,
      utm_medium text,
      utm_campaign text,
      referrer text,
      ref text,
      landing_page text,
      referral_code text not null unique,
      notes text not null default '',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      confirmed_at timestamptz,
      unsubscribed_at timestamptz
    );
    -- One member per address whatever its case; lookups use lower(email) to hit this index.
    create unique index members_email_key on members (lower(email));
    -- Keyset pagination of the admin list (newest first) without OFFSET.
    create index members_created_idx on members (created_at desc, id desc);
    create index members_tier_idx on members (tier_id);

    create table member_newsletters (
      member_id bigint not null references members (id) on delete cascade,
      newsletter_id bigint not null references newsletters (id) on delete cascade,
      created_at timestamptz not null default now(),
      primary key (member_id, newsletter_id)
    );
    create index member_newsletters_newsletter_idx on member_newsletters (newsletter_id, member_id);

    create table posts (
      id bigint generated always as identity primary key,
      slug text not null unique,
      title text not null,
      excerpt text not null default '',
      markdown text not null default '',
      visibility text not null default 'public' check (visibility in ('public', 'members', 'paid')),
      status text not null default 'draft' check (status in ('draft', 'scheduled', 'published')),
      author_id bigint references staff_users (id) on delete set null,
      published_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index posts_published_idx on posts (published_at desc, id desc) where status = 'published';

    -- The local mailbox used when no mail provider is configured (read at /admin/outbox).
    -- A batch retried under the same idempotency key lands on the same rows, not new ones.
    create table outbox (
      id bigint generated always as identity primary key,
      created_at timestamptz not null default now(),
      from_address text not null,
      to_addresses text[] not null,
      subject text not null,
      html text,
      text text,
      headers jsonb not null default '{}',
      tags jsonb not null default '[]',
      idempotency_key text,
      batch_index integer,
      unique (idempotency_key, batch_index)
    );
    create index outbox_created_idx on outbox (created_at desc, id desc);

    -- Fixed-window counters shared by every process; keys are HMACs, never raw IPs or addresses.
    create table rate_limits (
      key text not null,
      window_start timestamptz not null,
      hits integer not null,
      primary key (key, window_start)
    );

    create table worker_heartbeats (
      worker_id text primary key,
      beat_at timestamptz not null
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table worker_heartbeats, rate_limits, outbox, posts, member_newsletters, members,
      tiers, newsletters, settings, api_tokens, staff_sessions, staff_users;
  `.execute(db);
}
