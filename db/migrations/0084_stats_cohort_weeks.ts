import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Which members each cohort week of stats_cohorts was counted from, as a fingerprint (how
    -- many, and two sums of 64-bit hashes of each member's id and platform). An incremental
    -- rollup recounts a week's engagement whole only when its members changed (a late
    -- confirmation, a deletion, an edited platform or signup date); for the others it keeps the
    -- engaged counts of the weeks before its window and recounts only the weeks it read days of.
    -- Written with stats_cohorts, in the same transaction; rebuilt by every full run.
    create table stats_cohort_weeks (
      week date primary key,
      members int not null,
      h1 numeric not null,
      h2 numeric not null
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table stats_cohort_weeks`.execute(db);
}
