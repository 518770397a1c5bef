import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Whether this send's tracking names the member (the site's per-member tracking setting when
    -- the send was prepared); fixed with the send, like everything in its emails.
    alter table sends add column track_members boolean not null default true;

    -- Every link of a send, stored once when the send is prepared. A click token names
    -- (send, link), and the redirect goes only to the URL stored here.
    create table send_links (
      send_id bigint not null references sends (id) on delete cascade,
      link int not null,
      url text not null,
      -- Set when the link is a post of this site: a member arriving through it is reading it.
      post_id bigint,
      primary key (send_id, link)
    );

    -- First-party engagement: opens, clicks, web reads by known members, anonymous views.
    -- Append-only; partitioned by month so old months can be detached or dropped whole, and a
    -- month's scan never reads another's. member_id is null for anonymous views and whenever
    -- per-member tracking is off. machine: a mail privacy proxy's prefetch, a link scanner, a
    -- HEAD request or a known bot; reported apart from human engagement. agent: the user
    -- agent reduced to a class; the user agent itself and the IP address are never stored.
    create table engagement_events (
      occurred_at timestamptz not null default now(),
      kind text not null check (kind in ('open', 'click', 'read', 'view')),
      member_id bigint,
      send_id bigint,
      post_id bigint,
      link int,
      machine boolean not null default false,
      agent text not null default 'other'
    ) partition by range (occurred_at);
    create table engagement_events_default partition of engagement_events default;
    create index engagement_events_member_idx on engagement_events (member_id, occurred_at) where member_id is not null;
    create index engagement_events_send_idx on engagement_events (send_id, kind, occurred_at) where send_id is not null;
    create index engagement_events_post_idx on engagement_events (post_id, occurred_at) where post_id is not null;

    -- Monthly partitions from this month on, created ahead (the worker calls this hourly), so
    -- the default partition stays empty.
    create function ensure_engagement_partitions(months_ahead int) returns int language plpgsql as $$
    declare
      first date := date_trunc('month', now())::date;
      made int := 0;
      m date;
      name text;
    begin
      for i in 0..months_ahead loop
        m := (first + make_interval(months => i))::date;
        name := 'engagement_events_' || to_char(m, 'YYYY_MM');
        if to_regclass(name) is null then
          execute format('create table %I partition of engagement_events for values from (%L) to (%L)', name, m, (m + interval '1 month')::date);
          made := made + 1;
        end if;
      end loop;
      return made;
    end $$;
    select ensure_engagement_partitions(2);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function ensure_engagement_partitions(int); drop table engagement_events; drop table send_links; alter table sends drop column track_members;`.execute(
    db,
  );
}
