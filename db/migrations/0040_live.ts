import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Live send figures, kept by the tracking event writer in the statement that inserts the
    -- events (src/lib/event-writer.ts), so a send's report is current within a batch (a few ms).
    -- link = -1 is the send as a whole (opens and clicks); link >= 0 one link's clicks. No foreign
    -- key: a tracking batch must never fail because its send was deleted; rows of sends past the
    -- live window are pruned (the rollups keep their history).
    create table send_live_counts (
      send_id bigint not null,
      link int not null,
      human_opens int not null default 0,
      unique_human_opens int not null default 0,
      machine_opens int not null default 0,
      human_clicks int not null default 0,
      unique_human_clicks int not null default 0,
      machine_clicks int not null default 0,
      primary key (send_id, link)
    );
    -- Who already counted once, for the unique figures: what = -2 an open, -1 a click of any link,
    -- n >= 0 a click of link n. Inserted with "on conflict do nothing": a row that goes in is a first.
    create table send_live_firsts (
      send_id bigint not null,
      what int not null,
      member_id bigint not null,
      primary key (send_id, what, member_id)
    );

    -- The staff live feed (domain/live): one row per fact, written in the transaction of the fact.
    -- seq is given at commit time under a lock (the deferred trigger below), so seq order is
    -- commit order: a reader that has seen seq n has seen every seq below it, which is what lets
    -- Last-Event-ID resume without loss. NOTIFY wakes every web process's one listener.
    create table live_events (
      id bigint generated always as identity primary key,
      seq bigint unique,
      type text not null,
      data jsonb not null default '{}',
      -- Set for a fact that must show once (a send's 50 % milestone, which two lanes may both see).
      key text unique,
      created_at timestamptz not null default now()
    );
    create index live_events_created_idx on live_events (created_at);
    create sequence live_events_seq;
    create function live_events_commit() returns trigger language plpgsql as $$
    declare
      s bigint;
    begin
      perform pg_advisory_xact_lock(7170040);
      s := nextval('live_events_seq');
      update live_events set seq = s where id = new.id;
      perform pg_notify('hearth_live', s::text);
      return null;
    end $$;
    create constraint trigger live_events_commit after insert on live_events
      deferrable initially deferred for each row execute function live_events_commit();

    -- Alerts to staff users: per kind, immediate email, hourly digest, or none (no row: the
    -- default of the kind, see domain/live/alerts.ts).
    create table staff_alert_settings (
      staff_user_id bigint not null references staff_users (id) on delete cascade,
      kind text not null check (kind in ('question', 'comment_held', 'comment_reported', 'send_failed', 'payment_failed', 'signup_wave')),
      mode text not null check (mode in ('immediate', 'hourly', 'none')),
      primary key (staff_user_id, kind)
    );
    -- One alert for one staff user: the unit of "never twice" (unique per fact and person).
    create table staff_alerts (
      id bigserial primary key,
      staff_user_id bigint not null references staff_users (id) on delete cascade,
      kind text not null,
      -- The fact's own key (e.g. question:42): an alert is recorded once per person and fact.
      fact_key text not null,
      summary text not null,
      link text not null,
      mode text not null check (mode in ('immediate', 'hourly')),
      created_at timestamptz not null default now(),
      emailed_at timestamptz,
      unique (staff_user_id, fact_key)
    );
    create index staff_alerts_digest_idx on staff_alerts (staff_user_id, created_at) where emailed_at is null;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table staff_alerts; drop table staff_alert_settings;
    drop table live_events; drop function live_events_commit(); drop sequence live_events_seq;
    drop table send_live_firsts; drop table send_live_counts;
  `.execute(db);
}
