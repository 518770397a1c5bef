import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Each rollup chunk's last engagement per member, appended as the chunk commits and folded
    -- into stats_members once at the end of the run (then emptied). A first run over a year of
    -- events upserted stats_members once per month chunk (a million rows each, every one a new
    -- version with entries in both its indexes); appending here costs a row write, and a run that
    -- stops part way keeps what its committed chunks found. No index: it is only ever read whole.
    create table stats_engaged_pending (
      member_id bigint not null,
      last_engaged_at timestamptz not null
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table stats_engaged_pending`.execute(db);
}
