import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Staging writes a million rows per million members; this index (lower() under the database's
    -- collation per row, a B-tree insert per row) was kept up by every COPY and read by nothing:
    -- the merge reads an import's rows whole, its addresses compared byte by byte.
    drop index if exists import_rows_import_idx;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`create index import_rows_import_idx on import_rows (import_id, lower(email), row_number)`.execute(db);
}
