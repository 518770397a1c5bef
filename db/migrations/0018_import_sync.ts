import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- 'previewed': the file is read and staged, the plan of changes is computed, nothing is
    -- written to members until staff start it (or confirm what the plan asks them to).
    alter table imports drop constraint imports_status_check;
    alter table imports add constraint imports_status_check
      check (status in ('uploaded', 'queued', 'running', 'previewed', 'done', 'failed'));
    alter table imports
      add column preview_only boolean not null default false,
      -- How each source plan becomes a Hearth tier: {"<plan>": {"tier": slug, "access": kind}}.
      add column plans jsonb not null default '{}',
      -- Staff said yes to importing paying members of unmapped plans as free.
      add column confirm_free boolean not null default false,
      add column encoding text not null default 'utf-8',
      -- What the merge will do (preview) or did (done): counts, plans, what needs confirming.
      add column summary jsonb,
      -- The mapping the staged rows were read with; null while nothing complete is staged.
      add column staged_mapping jsonb,
      -- Liveness for the watchdog, and how many times a run was restarted after dying.
      add column heartbeat_at timestamptz,
      add column restarts integer not null default 0;

    alter table import_rows
      add column notes text,
      add column plan text,
      add column access text,
      add column access_until timestamptz,
      add column stripe_customer_id text,
      add column state_at timestamptz,
      add column confirmed_at timestamptz,
      add column tier text,
      add column newsletters text[],
      add column platform text,
      add column ref text,
      add column referral_code text;

    -- The report of what an import changed (or, previewed, will change) for existing members.
    create table import_changes (
      import_id bigint not null references imports (id) on delete cascade,
      email text not null,
      member_id bigint,
      change text not null,
      detail text,
      primary key (import_id, email)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table import_changes;
    alter table import_rows drop column notes, drop column plan, drop column access, drop column access_until,
      drop column stripe_customer_id, drop column state_at, drop column confirmed_at, drop column tier,
      drop column newsletters, drop column platform, drop column ref, drop column referral_code;
    alter table imports drop column preview_only, drop column plans, drop column confirm_free, drop column encoding,
      drop column summary, drop column staged_mapping, drop column heartbeat_at, drop column restarts;
    alter table imports drop constraint imports_status_check;
    alter table imports add constraint imports_status_check check (status in ('uploaded', 'queued', 'running', 'done', 'failed'));
  `.execute(db);
}
