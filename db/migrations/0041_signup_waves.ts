import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- What the sign-up wave detector compares (domain/members/waves.ts), one row per new sign-up,
    -- kept two weeks (the normal rate is read from it). No raw IP: network is an HMAC of the /24
    -- (IPv4) or /48 (IPv6) the sign-up came from; agent is a browser class, not the user agent.
    create table signup_signals (
      member_id bigint primary key,
      created_at timestamptz not null default now(),
      pattern text not null,
      network text not null,
      agent text not null,
      landing text not null
    );
    create index signup_signals_created_idx on signup_signals (created_at);
    create index signup_signals_pattern_idx on signup_signals (pattern, created_at);
    create index signup_signals_network_idx on signup_signals (network, created_at);
    create index signup_signals_agent_idx on signup_signals (agent, created_at);
    create index signup_signals_landing_idx on signup_signals (landing, created_at);

    -- A wave: many sign-ups sharing one key (dimension: pattern, network, agent, landing) far above
    -- that key's normal rate; or the site-wide ceiling on confirmation emails per hour ('ceiling').
    create table signup_waves (
      id bigserial primary key,
      dimension text not null check (dimension in ('pattern', 'network', 'agent', 'landing', 'ceiling')),
      key text not null,
      -- Shown to staff: what was seen ("42 sign-ups in 10 minutes, normally 0.3").
      reason text not null,
      started_at timestamptz not null default now(),
      closed_at timestamptz
    );
    create unique index signup_waves_open_key on signup_waves (dimension, key) where closed_at is null;

    -- A sign-up on hold: recorded, not mailed. Released: its confirmation is queued once; dropped: never.
    create table signup_holds (
      member_id bigint primary key references members (id) on delete cascade,
      wave_id bigint not null references signup_waves (id),
      newsletter_ids bigint[] not null,
      held_at timestamptz not null default now(),
      released_at timestamptz,
      dropped_at timestamptz
    );
    -- Why a comment was put on hold, in words staff read (reports by weight: community/rules.ts).
    alter table comments add column hold_note text;

    create index signup_holds_wave_idx on signup_holds (wave_id) where released_at is null and dropped_at is null;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table comments drop column hold_note; drop table signup_holds; drop table signup_waves; drop table signup_signals;`.execute(
    db,
  );
}
