import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- A referral code for the row's member if the row makes one, drawn by staging from the
    -- system's random source (8 bytes per row). The merge drew it with SHA-256 per new member:
    -- 1.3 s of a million-member insert; staging writes it for a few hundred milliseconds.
    alter table import_rows add column drawn_code text;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table import_rows drop column drawn_code`.execute(db);
}
