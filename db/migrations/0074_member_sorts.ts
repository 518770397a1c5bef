import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

/**
 * The members table sorted by a column (domain/members/sort.ts), at a million members: each sort
 * walks an index in its order and stops at the page size, never sorting every member.
 *
 * - Engagement score: kept on stats_members by the stats rollup (0–5, the member page's score),
 *   indexed where it is above 0; members without one (score 0, or no row) are walked by id.
 * - Last active: stats_members.last_engaged_at with the member id as the tie-breaker (the old
 *   index on the time alone cannot continue a page from a (time, id) cursor).
 * - Status: (status, id); the (status, source_platform, id) index cannot give that order.
 * - Joined and name already have theirs: members_created_idx, members_name_search_idx.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table stats_members add column score smallint not null default 0;
    create index stats_members_score_idx on stats_members (score, member_id) where score > 0;
    create index stats_members_active_idx on stats_members (last_engaged_at, member_id) where last_engaged_at is not null;
    create index members_status_id_idx on members (status, id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop index members_status_id_idx;
    drop index stats_members_active_idx;
    drop index stats_members_score_idx;
    alter table stats_members drop column score;
  `.execute(db);
}
