import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

// Two member indexes cost a first import of a million members more than they need to (measured in
// bench/RESULTS.md, 2026-11-30 "import: memory and index costs"):
// - email_hash() could not be inlined (its body calls convert_to(), which is only STABLE, inside an
//   IMMUTABLE function), so every call ran the SQL-function executor: 8.0 s per million addresses
//   against 4.3 s inlined. decode(…, 'escape') of the text with its backslashes doubled gives the
//   same bytes as convert_to(…, 'UTF8') in a UTF8 database, and is immutable: same hashes, so
//   members_email_hash_idx and the stored suppressions stay valid as they are.
// - referral_code is a random ASCII token compared only for equality; under the database's
//   collation its unique index sorts with strcoll (9.9 s per million), under "C" bytewise with
//   abbreviated keys (3.3 s). Equality is the same in both.
export async function up(db: Kysely<any>): Promise<void> {
  const encoding = await sql<{
    name: string;
  }>`select pg_encoding_to_char(encoding) as name from pg_database where datname = current_database()`.execute(db);
  if (encoding.rows[0]?.name === 'UTF8') {
    await sql`
      create or replace function email_hash(email text) returns text language sql immutable parallel safe
        as $$ select encode(sha256(decode(replace(lower(email), '\\', '\\\\'), 'escape')), 'hex') $$;
    `.execute(db);
  }
  await sql`alter table members alter column referral_code type text collate "C"`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table members alter column referral_code type text collate "default";
    create or replace function email_hash(email text) returns text language sql immutable parallel safe
      as $$ select encode(sha256(convert_to(lower(email), 'UTF8')), 'hex') $$;
  `.execute(db);
}
