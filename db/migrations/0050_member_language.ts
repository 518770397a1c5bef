import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The member's language (ISO 639-1) for pages and emails; null: the site's language.
    -- Which codes exist is the catalogues' business (locales/), checked by the app.
    alter table members add column language text check (language ~ '^[a-z]{2}$');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table members drop column language`.execute(db);
}
