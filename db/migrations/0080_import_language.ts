import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A member's language from an import's language/locale column (ISO 639-1, checked by the app).
    alter table import_rows add column language text;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table import_rows drop column language`.execute(db);
}
