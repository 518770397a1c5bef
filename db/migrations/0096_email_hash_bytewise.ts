import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

// members_email_hash_idx holds 64 hex digits per member, sorted under the database's collation:
// strcoll per comparison and no abbreviated keys, 1.8 s of a first import's 10 s of index builds
// per million members. Under "C" the same keys sort bytewise (26 % less). Equality is the same in
// both, so the one query that reads the index (a send's suppressed members, sending/segments.ts)
// names the collation and finds the same rows.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    drop index members_email_hash_idx;
    create index members_email_hash_idx on members ((email_hash(email) collate "C"));
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop index members_email_hash_idx;
    create index members_email_hash_idx on members (email_hash(email));
  `.execute(db);
}
