import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Outbound webhooks (domain/webhooks): endpoints staff register, one per URL and set of events.
    -- secret is the whsec_ signing key: shown once at creation, used by the worker to sign, never
    -- returned by the API again and never exported.
    create table webhooks (
      id bigserial primary key,
      url text not null,
      description text not null default '',
      events text[] not null,
      secret text not null,
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now(),
      -- Set when every delivery has failed for the disabling window (3 days); no new deliveries.
      disabled_at timestamptz,
      disabled_reason text,
      -- The first failure of the current run of failures; cleared by any success.
      failing_since timestamptz
    );

    -- One event for one endpoint: written in the transaction of the change that caused it, so an
    -- event is never lost nor sent for a rolled-back change. The job delivers it and logs each attempt.
    create table webhook_deliveries (
      id bigserial primary key,
      webhook_id bigint not null references webhooks (id) on delete cascade,
      -- The webhook-id header: the same on every attempt and replay, so receivers can deduplicate.
      message_id text not null,
      event_type text not null,
      payload jsonb not null,
      status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
      attempts int not null default 0,
      last_status_code int,
      last_response text,
      last_error text,
      next_attempt_at timestamptz,
      created_at timestamptz not null default now(),
      delivered_at timestamptz
    );
    create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, id desc);

    -- Each attempt: its response code (null when no answer) and a short excerpt of the body.
    create table webhook_attempts (
      id bigserial primary key,
      delivery_id bigint not null references webhook_deliveries (id) on delete cascade,
      attempted_at timestamptz not null default now(),
      status_code int,
      response_excerpt text,
      error text,
      duration_ms int not null default 0
    );
    create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table webhook_attempts; drop table webhook_deliveries; drop table webhooks;`.execute(db);
}
