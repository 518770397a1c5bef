import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ENGAGED_DAYS } from './definitions.ts';

/**
 * Each member's engagement score as of this run, kept on stats_members.score so the members table
 * can sort by it through an index (migration 0074) instead of scoring every member per page.
 *
 * The same score as the member page (definitions.ts `engagementScore`), in SQL: over the last
 * ENGAGED_DAYS days of stats_member_days (human clicks and poll answers, reads, comments,
 * reactions), one point for any click and one more for 3 or more, the same for reads, one for a
 * comment or a reaction; at most 5. Opens never count (privacy proxies open every email).
 *
 * Only the rows whose score changed are written: members whose engagement in the window moved,
 * and those whose last point just left it (set back to 0). The window is about a million
 * stats_member_days rows at a million members (the day index), read once per run.
 */
export function changedScores(now: Date, zone: string, previous?: Date): RawBuilder<{ member_id: string; score: number }> {
  const nowDay = sql`(${now}::timestamptz at time zone ${zone})::date`;
  const score = sql`least(5,
      case when sum(clicks) >= 3 then 2 when sum(clicks) > 0 then 1 else 0 end
    + case when sum(reads) >= 3 then 2 when sum(reads) > 0 then 1 else 0 end
    + case when sum(comments) + sum(reactions) > 0 then 1 else 0 end)::smallint`;
  if (previous === undefined) {
    // Every score: the window's scores, fully joined to the scores on record, and only the
    // differences. Two passes (upsert every score, then zero the rest by anti-join) took 10.3 s
    // at a million members on the busy machine; one statement 4.9 s (bench/RESULTS.md).
    return sql`
      with scored as (
        select member_id, ${score} as score
        from stats_member_days
        where day > ${nowDay} - ${ENGAGED_DAYS}::int
        group by member_id
      )
      select coalesce(c.member_id, s.member_id) as member_id, coalesce(c.score, 0::smallint) as score
      from scored c full join (select member_id, score from stats_members where score > 0) s on s.member_id = c.member_id
      where coalesce(c.score, 0) <> coalesce(s.score, 0)
    `;
  }
  // After a completed run (its `now` is `previous`): a score can only have moved for members
  // whose days this run recounted (marked in stats_engaged_pending by the chunks) or who have a
  // day between the two windows' first days (gone out of the window, or come in if the clock
  // went back). Everyone else has the same days in the window as the last run scored.
  const prevDay = sql`(${previous}::timestamptz at time zone ${zone})::date`;
  return sql`
    with touched as (
      select member_id from stats_engaged_pending
      union
      select member_id from stats_member_days
      where day > least(${prevDay}, ${nowDay}) - ${ENGAGED_DAYS}::int and day <= greatest(${prevDay}, ${nowDay}) - ${ENGAGED_DAYS}::int
    ),
    scored as (
      select member_id, ${score} as score
      from stats_member_days
      where member_id in (select member_id from touched) and day > ${nowDay} - ${ENGAGED_DAYS}::int
      group by member_id
    )
    -- The score on record by a primary-key probe per touched member (a few tens of thousands):
    -- as a join, the planner hashed all of stats_members (a million rows) every run.
    select t.member_id, coalesce(c.score, 0::smallint) as score
    from touched t left join scored c on c.member_id = t.member_id
    where coalesce(c.score, 0) <> coalesce((select s.score from stats_members s where s.member_id = t.member_id), 0)
  `;
}

/** The stored score and the last engagement of these members, for a page of the members table. */
export async function memberScores(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<Map<string, { score: number; lastActiveAt: Date | null }>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('stats_members')
    .select(['member_id', 'score', 'last_engaged_at'])
    .where('member_id', 'in', [...ids])
    .execute();
  return new Map(rows.map((r) => [r.member_id, { score: r.score, lastActiveAt: r.last_engaged_at }]));
}
