import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Addresses a post had on the service it was imported from (Substack's /p/<slug>, Ghost's
    -- /<slug>/), answered with a 301 to /posts/<slug>. Consulted only when nothing else answers
    -- (a 404), by primary key. old_path is stored without a trailing slash.
    create table post_redirects (
      old_path text primary key check (old_path like '/%' and length(old_path) <= 300),
      slug text not null,
      created_at timestamptz not null default now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table post_redirects;`.execute(db);
}
