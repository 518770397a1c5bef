import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A post's language (ISO 639-1; null: the site's) and, for a translation, the post it
    -- translates. A translation translates an original, never another translation (the app
    -- checks it), and an original has at most one translation per language.
    alter table posts
      add column language text check (language ~ '^[a-z]{2}$'),
      add column translation_of bigint references posts (id) on delete set null check (translation_of <> id);
    create unique index posts_translation_language_idx on posts (translation_of, language) where translation_of is not null;

    -- The language a delivery's fixed parts (and translation) are in, fixed with the snapshot so
    -- a retried batch is the same payload; null: the send's own (the site's) rendering.
    alter table deliveries add column language text;
    alter table automation_deliveries add column language text;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table automation_deliveries drop column language;
    alter table deliveries drop column language;
    drop index posts_translation_language_idx;
    alter table posts drop column translation_of, drop column language;
  `.execute(db);
}
