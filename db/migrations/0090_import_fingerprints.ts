import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A re-import skips a row byte for byte the one a member was last imported from (same mapping
    -- and options), while the member is as that import left them: the row's hash XOR a hash of
    -- the member's state after the merge (src/domain/imports/fingerprint.ts). Null: never skipped.
    alter table members add column import_fingerprint bigint;
    -- The hash of the raw record a staged row was read from (null: read by csv-parse, no hash).
    alter table import_rows add column fingerprint bigint;
    -- The options a file was staged with (skips depend on them): a run with other options stages again.
    alter table imports add column staged_key text;
    -- Rows a staging run skipped as unchanged: their row number and hash (no index: read whole once).
    create unlogged table import_skips (
      import_id bigint not null,
      row_number integer not null,
      fingerprint bigint not null
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table import_skips;
    alter table imports drop column staged_key;
    alter table import_rows drop column fingerprint;
    alter table members drop column import_fingerprint;
  `.execute(db);
}
