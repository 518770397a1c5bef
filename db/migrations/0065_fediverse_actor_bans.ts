import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Fediverse accounts banned from the site (besides whole servers in fediverse_domain_blocks):
    -- their replies, likes, boosts and follows are refused, and they are no longer followers.
    create table fediverse_actor_bans (
      id bigserial primary key,
      actor_uri text not null unique,
      handle text not null,
      reason text not null default '',
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table fediverse_actor_bans`.execute(db);
}
