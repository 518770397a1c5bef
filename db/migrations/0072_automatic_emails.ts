import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Staff's own text for an automatic email (welcome, confirmation, sign-in, …) in one language.
    -- Every save is a new version; the live one is the highest version of its (kind, language).
    -- A version with reset = true (and no text) puts the catalogue's default back.
    create table automatic_email_versions (
      id bigserial primary key,
      kind text not null,
      language text not null,
      version integer not null,
      reset boolean not null default false,
      subject text,
      preheader text,
      markdown text,
      created_by bigint references staff_users (id) on delete set null,
      created_by_email text,
      created_at timestamptz not null default now(),
      unique (kind, language, version),
      check (reset or (subject is not null and preheader is not null and markdown is not null))
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table automatic_email_versions`.execute(db);
}
