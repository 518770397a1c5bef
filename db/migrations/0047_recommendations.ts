import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Newsletters the brand recommends (domain/recommendations): shown after subscribing and at
    -- /.well-known/recommendations.json. clicks counts readers sent to each; nothing about who.
    create table recommendations (
      id bigserial primary key,
      url text not null unique,
      name text not null,
      reason text not null default '',
      clicks int not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table recommendations`.execute(db);
}
