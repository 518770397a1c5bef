import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One post emailed to one segment. The status moves draft → scheduled → preparing → sending
    -- (⇄ paused) → sent | cancelled | failed. What was posted is summed from the batches (a
    -- thousandth of the deliveries), so the lanes never queue on this row; the webhook's
    -- counters (delivered, bounced, …) are kept here.
    create table sends (
      id bigserial primary key,
      post_id bigint not null references posts (id) on delete restrict,
      status text not null default 'draft'
        check (status in ('draft', 'scheduled', 'preparing', 'sending', 'paused', 'sent', 'cancelled', 'failed')),
      segment jsonb not null,
      send_at timestamptz,
      undo_seconds int not null default 30,
      -- Fixed at preparation, so a batch re-posted after a crash is byte-for-byte the same.
      from_address text,
      rendered jsonb,
      recipients int not null default 0,
      batches int not null default 0,
      skipped int not null default 0,
      delivered int not null default 0,
      bounced int not null default 0,
      complained int not null default 0,
      delayed int not null default 0,
      provider_failed int not null default 0,
      error text,
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now(),
      scheduled_at timestamptz,
      prepared_at timestamptz,
      finished_at timestamptz
    );
    create index sends_post_idx on sends (post_id);
    create index sends_active_idx on sends (status) where status in ('scheduled', 'preparing', 'sending');

    -- One email of a send to one member: the unit of exactly-once. Address, name and variant are
    -- a snapshot taken at preparation. The primary key serves both the batches (a batch is a
    -- range of member ids of one send) and "who already got this send".
    create table deliveries (
      send_id bigint not null references sends (id) on delete cascade,
      member_id bigint not null,
      email text not null,
      name text,
      -- For a post's {{referral}} block: the member's own /r/<code> link.
      referral_code text,
      variant "char" not null,
      status text not null default 'queued' check (status in ('queued', 'posted', 'rejected', 'skipped')),
      provider_id text,
      error text,
      posted_at timestamptz,
      delivered_at timestamptz,
      delayed_at timestamptz,
      bounced_at timestamptz,
      complained_at timestamptz,
      failed_at timestamptz,
      primary key (send_id, member_id)
    ) with (fillfactor = 90);

    -- Batches of up to 100 deliveries, fixed once made: batch n of a send is the deliveries whose
    -- member ids lie in [first_member, last_member]. A batch is claimed with a lease; a lease
    -- that ran out (its worker died) may be claimed again and re-posts the identical payload
    -- under the same idempotency key.
    create table send_batches (
      send_id bigint not null references sends (id) on delete cascade,
      batch int not null,
      first_member bigint not null,
      last_member bigint not null,
      size int not null,
      status text not null default 'pending' check (status in ('pending', 'posting', 'posted', 'failed', 'cancelled')),
      attempts int not null default 0,
      next_attempt_at timestamptz not null default now(),
      lease_until timestamptz,
      claimed_by text,
      error text,
      posted_at timestamptz,
      posted_count int not null default 0,
      rejected_count int not null default 0,
      primary key (send_id, batch)
    );
    create index send_batches_open_idx on send_batches (send_id, batch) where status in ('pending', 'posting');

    -- Suppressions are kept as SHA-256 of the address; this index finds the members behind
    -- them without hashing every address (a segment's count at a million members: 1.3 s → see
    -- bench/RESULTS.md). The function is immutable because the database's encoding is fixed.
    create function email_hash(email text) returns text language sql immutable parallel safe
      as $$ select encode(sha256(convert_to(lower(email), 'UTF8')), 'hex') $$;
    create index members_email_hash_idx on members (email_hash(email));

    -- The provider's rate, shared by every worker process: each request reserves the next free
    -- slot (next_at), and a 429 pushes next_at past its retry-after.
    create table mail_rate (
      id text primary key,
      next_at timestamptz not null default now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table mail_rate, send_batches, deliveries, sends; drop index members_email_hash_idx; drop function email_hash(text);`.execute(
    db,
  );
}
