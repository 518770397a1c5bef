import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- An imported row's custom field values ({key: value}, checked against the fields' types when
    -- staged), from the columns whose header is a field's key; null when the file has none.
    alter table import_rows add column fields jsonb;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table import_rows drop column fields;`.execute(db);
}
