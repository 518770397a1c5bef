import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Rollups the stats pages read. Jobs keep them current (src/domain/stats/rollup.ts); a page
    -- load never scans engagement_events or events. Every table here can be dropped and rebuilt
    -- from the raw facts by running the rollup again.

    -- How far the incremental rollups have read, by name.
    create table stats_state (
      name text primary key,
      value timestamptz not null
    );

    -- Human engagement per member per day: clicks and reads (engagement_events, machine = false),
    -- comments and reactions (events). A day is recounted whole, so a rerun is idempotent.
    create table stats_member_days (
      member_id bigint not null,
      day date not null,
      clicks int not null default 0,
      reads int not null default 0,
      comments int not null default 0,
      reactions int not null default 0,
      primary key (member_id, day)
    );
    create index stats_member_days_day_idx on stats_member_days (day);

    -- Per member: the last human engagement and the last email posted to them. "Engaged" and
    -- "cold" (segments, the overview, sources) read this table, one row per member.
    create table stats_members (
      member_id bigint primary key,
      last_engaged_at timestamptz,
      last_emailed_at timestamptz
    );
    create index stats_members_engaged_idx on stats_members (last_engaged_at);

    -- One row per day (UTC). Flows (joined, left, MRR gained and lost) are counted from the
    -- facts; the levels (members, MRR, engaged, emailed) are a snapshot taken by the last run of
    -- that day, null for days before the first run.
    create table stats_days (
      day date primary key,
      joined int not null default 0,
      "left" int not null default 0,
      mrr_new_cents bigint not null default 0,
      mrr_lost_cents bigint not null default 0,
      members_free int,
      members_paid int,
      engaged int,
      emailed int,
      mrr_cents bigint,
      computed_at timestamptz not null default now()
    );

    -- Per platform and per UTM campaign (dimension), rebuilt whole by each run.
    create table stats_sources (
      dimension text not null check (dimension in ('platform', 'campaign')),
      key text not null,
      signups int not null,
      confirmed int not null,
      eligible_30 int not null,
      retained_30 int not null,
      eligible_90 int not null,
      retained_90 int not null,
      emailed int not null,
      engaged int not null,
      paid int not null,
      mrr_cents bigint not null,
      primary key (dimension, key)
    );

    -- Retention by signup week (platform '' = every platform), rebuilt whole by each run.
    create table stats_cohorts (
      platform text not null,
      week date not null,
      offset_week int not null,
      members int not null,
      subscribed int not null,
      engaged int not null,
      primary key (platform, week, offset_week)
    );

    -- Per send: engagement and what it led to, recounted while the send is recent.
    create table stats_sends (
      send_id bigint primary key references sends (id) on delete cascade,
      human_opens int not null default 0,
      unique_human_opens int not null default 0,
      machine_opens int not null default 0,
      human_clicks int not null default 0,
      unique_human_clicks int not null default 0,
      machine_clicks int not null default 0,
      unsubscribes int not null default 0,
      comments int not null default 0,
      upgrades int not null default 0,
      -- Set once the finished send's recipients were folded into stats_members.last_emailed_at.
      emailed_rolled_at timestamptz,
      computed_at timestamptz not null default now()
    );
    create table stats_send_links (
      send_id bigint not null references sends (id) on delete cascade,
      link int not null,
      human_clicks int not null,
      unique_human_clicks int not null,
      machine_clicks int not null,
      primary key (send_id, link)
    );
    -- Opens and clicks by hour since the send started (0..167).
    create table stats_send_hours (
      send_id bigint not null references sends (id) on delete cascade,
      hour int not null,
      human_opens int not null,
      machine_opens int not null,
      human_clicks int not null,
      primary key (send_id, hour)
    );

    -- Web reads by signed-in members and anonymous views, per post per day.
    create table stats_post_days (
      post_id bigint not null,
      day date not null,
      reads int not null default 0,
      views int not null default 0,
      primary key (post_id, day)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table stats_post_days, stats_send_hours, stats_send_links, stats_sends, stats_cohorts, stats_sources, stats_days, stats_members, stats_member_days, stats_state;
  `.execute(db);
}
