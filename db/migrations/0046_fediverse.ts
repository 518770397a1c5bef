import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The site's actor keys (domain/fediverse/keys.ts): made once, the first time the actor is
    -- asked for. The private half never leaves this table (not exported in the site archive).
    create table fediverse_keys (
      kind text primary key check (kind in ('rsa', 'ed25519')),
      public_jwk jsonb not null,
      private_jwk jsonb not null,
      created_at timestamptz not null default now()
    );

    -- Fedify's key-value store (lib/fedify-kv.ts): cached remote keys and documents, idempotence
    -- marks. The key is Fedify's key path joined by a unit separator.
    create table fediverse_kv (
      key text primary key,
      value jsonb not null,
      expires_at timestamptz
    );
    create index fediverse_kv_expires_idx on fediverse_kv (expires_at) where expires_at is not null;

    -- Fediverse accounts following the site's actor. Not members: no email, no consent to mail.
    create table fediverse_followers (
      id bigserial primary key,
      actor_uri text not null unique,
      handle text not null,
      server text not null,
      inbox text not null,
      shared_inbox text,
      created_at timestamptz not null default now()
    );
    create index fediverse_followers_server_idx on fediverse_followers (server);

    -- Accounts the site's actor follows (to read and answer them from the admin).
    create table fediverse_following (
      id bigserial primary key,
      actor_uri text not null unique,
      handle text not null,
      inbox text not null,
      follow_id text not null,
      accepted_at timestamptz,
      created_at timestamptz not null default now()
    );

    -- Servers whose activities are refused and to which nothing is delivered.
    create table fediverse_domain_blocks (
      domain text primary key,
      reason text not null default '',
      created_at timestamptz not null default now()
    );

    -- What followers last received for each post: the object's state, so a later change sends
    -- Update or Delete (and nothing when nothing they saw changed). No foreign key: a deleted
    -- post still needs its Delete.
    create table fediverse_posts (
      post_id bigint primary key,
      object_id text not null,
      state text not null check (state in ('live', 'deleted')),
      digest text not null,
      updated_at timestamptz not null default now()
    );

    -- One activity to one inbox (shared inboxes keep it to one per server): the unit of exactly-once.
    create table fediverse_deliveries (
      id bigserial primary key,
      activity_id text not null,
      inbox text not null,
      body jsonb not null,
      status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
      attempts int not null default 0,
      last_status_code int,
      last_error text,
      created_at timestamptz not null default now(),
      delivered_at timestamptz,
      unique (activity_id, inbox)
    );

    -- What arrived from accounts the site follows, and answers to the site's own notes.
    create table fediverse_received (
      id bigserial primary key,
      object_id text not null unique,
      actor_uri text not null,
      handle text not null,
      type text not null,
      in_reply_to text,
      name text,
      summary text,
      content text not null default '',
      url text,
      received_at timestamptz not null default now(),
      updated_at timestamptz
    );

    -- A comment may come from a fediverse account: marked with its handle and server, and the
    -- note's id (so an edit or a Delete finds it, and a redelivery is not a second comment).
    alter table comments add column remote_actor text;
    alter table comments add column remote_handle text;
    alter table comments add column remote_object_id text unique;
    -- A staff reply that was federated as a note (its id), so a reply to it is threaded.
    alter table comments add column ap_id text unique;
    alter table comments drop constraint comments_check;
    alter table comments add constraint comments_author_check
      check (member_id is not null or staff_user_id is not null or remote_actor is not null or status = 'deleted');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table comments drop constraint comments_author_check;
    alter table comments drop column remote_actor, drop column remote_handle, drop column remote_object_id, drop column ap_id;
    alter table comments add constraint comments_check check (member_id is not null or staff_user_id is not null or status = 'deleted');
    drop table fediverse_received; drop table fediverse_deliveries; drop table fediverse_posts;
    drop table fediverse_domain_blocks; drop table fediverse_following; drop table fediverse_followers;
    drop table fediverse_kv; drop table fediverse_keys;
  `.execute(db);
}
