import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Prefix search on the members list. In the "C" collation a LIKE 'abc%' prefix is an index
    -- range whatever the database's own collation, and the same index returns the matches already
    -- ordered by address, so a page of a search is an index scan with a LIMIT, never a sort.
    create index members_email_prefix_idx on members ((lower(email) collate "C"));
    create index members_name_prefix_idx on members ((lower(name) collate "C")) where name is not null;
    -- Counts by status and platform read this index alone (index-only scan, no table access).
    -- Pages with these filters need no index of their own: they walk members_created_idx and
    -- stop after 50 matches, which is quick even for a rare platform.
    create index members_status_platform_idx on members (status, source_platform, id);
    alter table members add column import_id bigint;
    create index members_import_idx on members (import_id) where import_id is not null;
    -- Referral counts (members whose ref is this member's code) for the members list.
    create index members_ref_idx on members (ref) where ref is not null;

    create table labels (
      id bigint generated always as identity primary key,
      name text not null check (length(name) between 1 and 100),
      created_at timestamptz not null default now()
    );
    create unique index labels_name_key on labels (lower(name));

    create table member_labels (
      member_id bigint not null references members (id) on delete cascade,
      label_id bigint not null references labels (id) on delete cascade,
      primary key (member_id, label_id)
    );
    create index member_labels_label_idx on member_labels (label_id, member_id);

    -- First-party facts about members, append-only. A deleted member's events stay, anonymous
    -- (erasure sets member_id to null), so aggregates survive. Keyed by occurred_at so the table
    -- can become a monthly-partitioned one when tracking lands. No foreign key on member_id: it
    -- would be a per-row check on the hottest insert path (tracking, imports), and erasure
    -- (deleteMember, bulk delete) nulls a member's events itself.
    create table events (
      id bigint generated always as identity primary key,
      member_id bigint,
      type text not null,
      occurred_at timestamptz not null default now(),
      data jsonb not null default '{}',
      machine boolean not null default false
    );
    create index events_member_idx on events (member_id, occurred_at desc) where member_id is not null;
    create index events_type_time_idx on events (type, occurred_at);

    -- Addresses never to be mailed again (hard bounce, complaint, or by hand), kept as a hash so
    -- the suppression outlives the member's deletion without keeping the address.
    create table suppressions (
      email_hash text primary key,
      reason text not null check (reason in ('bounced', 'complained', 'manual')),
      created_at timestamptz not null default now()
    );

    create table imports (
      id bigint generated always as identity primary key,
      status text not null default 'uploaded' check (status in ('uploaded', 'queued', 'running', 'done', 'failed')),
      filename text not null,
      format text not null,
      headers jsonb not null default '[]',
      mapping jsonb not null default '{}',
      preview jsonb not null default '[]',
      newsletter_id bigint references newsletters (id) on delete set null,
      mark_confirmed boolean not null default false,
      attestation text,
      send_confirmation boolean not null default false,
      bytes bigint not null default 0,
      bytes_done bigint not null default 0,
      rows integer not null default 0,
      imported integer not null default 0,
      updated integer not null default 0,
      rejected integer not null default 0,
      error text,
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz
    );

    -- The uploaded file, in 1 MiB pieces: any worker machine can read it, no shared disk needed.
    create table import_chunks (
      import_id bigint not null references imports (id) on delete cascade,
      seq integer not null,
      data bytea not null,
      primary key (import_id, seq)
    );
    -- The chunks are CSV already read once for the preview; compressing them on the way in cost
    -- 6 s of a 211 MB upload (1.5 s without).
    alter table import_chunks alter column data set storage external;

    -- Staging for COPY: unlogged (fast, and rebuilt from import_chunks if a worker dies).
    create unlogged table import_rows (
      import_id bigint not null,
      row_number integer not null,
      email text not null,
      name text,
      status text not null,
      created_at timestamptz,
      labels text[] not null default '{}',
      utm_source text,
      utm_medium text,
      utm_campaign text,
      referrer text
    );
    create index import_rows_import_idx on import_rows (import_id, lower(email), row_number);

    create table import_rejections (
      import_id bigint not null references imports (id) on delete cascade,
      row_number integer not null,
      email text,
      reason text not null,
      primary key (import_id, row_number)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table import_rejections, import_rows, import_chunks, imports, suppressions, events, member_labels, labels;
    alter table members drop column import_id;
    drop index members_email_prefix_idx, members_name_prefix_idx, members_status_platform_idx, members_ref_idx, members_import_idx;
  `.execute(db);
}
