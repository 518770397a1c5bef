import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One adoption of the Stripe account's existing subscriptions (stripe:sync, or the admin's
    -- button through the job queue): its state and what it found. Members and subscriptions are
    -- changed by the run itself; this row is its report.
    create table stripe_syncs (
      id bigserial primary key,
      status text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
      via text not null check (via in ('admin', 'cli', 'api')),
      requested_by bigint references staff_users (id) on delete set null,
      attempts int not null default 0,
      -- Counts, kept as columns for the admin's list; the lists of unmatched subscriptions and
      -- customers without a subscription are in report (bounded, see domain/billing/adopt.ts).
      subscriptions int not null default 0,
      linked int not null default 0,
      unchanged int not null default 0,
      unmatched int not null default 0,
      report jsonb not null default '{}',
      error text,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz
    );
    create index stripe_syncs_open_idx on stripe_syncs (created_at) where status in ('queued', 'running');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table stripe_syncs;`.execute(db);
}
