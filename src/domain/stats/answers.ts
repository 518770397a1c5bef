import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { getSiteSettings } from '../site/settings.ts';

/**
 * Answer time: how long members' questions wait for the first staff answer (comments.answered_at,
 * set by the first published staff reply), per week of asking in the site's time zone: the median
 * and 90th percentile over the answered ones; and the questions still waiting, oldest first, with
 * their age. Read directly (not rolled up): questions are few, and the partial index
 * comments_questions_idx holds exactly the published questions.
 */
export const ANSWER_WEEKS = 12;

export async function statsAnswers(db: Kysely<Database>, options: { weeks?: number; now?: Date } = {}) {
  const weeks = options.weeks ?? ANSWER_WEEKS;
  const now = options.now ?? new Date();
  const { timeZone } = await getSiteSettings(db);
  const zone = (await sql<{ ok: boolean }>`select exists (select 1 from pg_timezone_names where name = ${timeZone}) as ok`.execute(db))
    .rows[0]!.ok
    ? timeZone
    : 'UTC';
  const [byWeek, waiting] = await Promise.all([
    sql<{ week: Date; asked: number; answered: number; median: number | null; p90: number | null }>`
      select date_trunc('week', created_at at time zone ${zone})::date as week,
        count(*)::int as asked,
        count(answered_at)::int as answered,
        percentile_cont(0.5) within group (order by extract(epoch from answered_at - created_at)) filter (where answered_at is not null) as median,
        percentile_cont(0.9) within group (order by extract(epoch from answered_at - created_at)) filter (where answered_at is not null) as p90
      from comments
      where question and status = 'published' and member_id is not null
        and created_at >= date_trunc('week', ${now}::timestamptz at time zone ${zone}) at time zone ${zone} - make_interval(weeks => ${weeks - 1})
      group by 1 order by 1
    `.execute(db),
    db
      .selectFrom('comments as c')
      .innerJoin('posts as p', 'p.id', 'c.post_id')
      .select(['c.id', 'c.post_id', 'p.slug', 'p.title', 'c.created_at'])
      .where('c.question', '=', true)
      .where('c.status', '=', 'published')
      .where('c.answered_at', 'is', null)
      .where('c.member_id', 'is not', null)
      .orderBy('c.created_at')
      .orderBy('c.id')
      .limit(100)
      .execute(),
  ]);
  const seconds = (v: number | null) => (v === null ? null : Math.round(Number(v)));
  return {
    time_zone: zone,
    weeks: byWeek.rows.map((w) => ({
      week: w.week.toISOString().slice(0, 10),
      asked: w.asked,
      answered: w.answered,
      median_seconds: seconds(w.median),
      p90_seconds: seconds(w.p90),
    })),
    waiting: waiting.map((q) => ({
      id: q.id,
      post_id: q.post_id,
      post_slug: q.slug,
      post_title: q.title,
      asked_at: q.created_at.toISOString(),
      age_seconds: Math.max(0, Math.round((now.getTime() - q.created_at.getTime()) / 1000)),
    })),
  };
}

export type AnswerStats = Awaited<ReturnType<typeof statsAnswers>>;
