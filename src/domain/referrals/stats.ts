import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/**
 * The figures of the admin's referrals page: totals by status, a leaderboard, referrals week by
 * week, and the referral channel (members whose first touch was a referral link). They read the
 * referrals table, which holds one row per referred member: far smaller than members.
 */
export async function referralTotals(db: Kysely<Database>) {
  const row = await db
    .selectFrom('referrals')
    .select([
      sql<string>`count(*) filter (where status = 'counted')`.as('counted'),
      sql<string>`count(*) filter (where status = 'pending')`.as('pending'),
      sql<string>`count(*) filter (where status = 'held')`.as('held'),
      sql<string>`count(*) filter (where status = 'rejected')`.as('rejected'),
      sql<string>`count(distinct referrer_id) filter (where status = 'counted')`.as('referrers'),
    ])
    .executeTakeFirstOrThrow();
  return {
    counted: Number(row.counted),
    pending: Number(row.pending),
    held: Number(row.held),
    rejected: Number(row.rejected),
    referrers: Number(row.referrers),
  };
}

/** The members who brought the most confirmed friends (ties: who got there first). */
export async function leaderboard(db: Kysely<Database>, limit = 20) {
  const rows = await db
    .selectFrom('referrals as r')
    .innerJoin('members as m', 'm.id', 'r.referrer_id')
    .select([
      'm.id',
      'm.email',
      'm.name',
      sql<string>`count(*) filter (where r.status = 'counted')`.as('counted'),
      sql<string>`count(*) filter (where r.status = 'held')`.as('held'),
      sql<string>`count(*) filter (where r.status = 'pending')`.as('pending'),
      sql<Date | null>`max(r.counted_at)`.as('last_counted_at'),
    ])
    .groupBy(['m.id', 'm.email', 'm.name'])
    .having(sql<boolean>`count(*) filter (where r.status = 'counted') > 0`)
    .orderBy(sql`count(*) filter (where r.status = 'counted')`, 'desc')
    .orderBy(sql`max(r.counted_at)`, 'asc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, counted: Number(r.counted), held: Number(r.held), pending: Number(r.pending) }));
}

/**
 * Week by week (Monday-based, in the site's time zone), the last `weeks` weeks: friends who signed
 * up through a link, referrals counted, referrals held. `week` is the Monday, `YYYY-MM-DD` in the zone.
 */
export async function referralsOverTime(db: Kysely<Database>, weeks = 12, zone = 'UTC') {
  const rows = await sql<{ week: string; signed_up: string; counted: string; held: string }>`
    with w as (
      select week, week at time zone ${zone} as starts, (week + interval '1 week') at time zone ${zone} as ends
      from generate_series(date_trunc('week', now() at time zone ${zone}) - make_interval(weeks => ${weeks - 1}),
                           date_trunc('week', now() at time zone ${zone}), interval '1 week') as week
    )
    select to_char(w.week, 'YYYY-MM-DD') as week,
      (select count(*) from referrals r where r.created_at >= w.starts and r.created_at < w.ends) as signed_up,
      (select count(*) from referrals r where r.status = 'counted' and r.counted_at >= w.starts and r.counted_at < w.ends) as counted,
      (select count(*) from referrals r where r.status = 'held' and r.confirmed_at >= w.starts and r.confirmed_at < w.ends) as held
    from w order by w.week
  `.execute(db);
  return rows.rows.map((r) => ({ week: r.week, signedUp: Number(r.signed_up), counted: Number(r.counted), held: Number(r.held) }));
}

/**
 * The referral channel as the sources stats will show it: members whose first touch was a
 * referral, how many confirmed, how many are still subscribed, how many joined in the last 30 days.
 */
export async function referralChannel(db: Kysely<Database>) {
  const row = await db
    .selectFrom('members')
    .select([
      sql<string>`count(*)`.as('members'),
      sql<string>`count(*) filter (where confirmed_at is not null)`.as('confirmed'),
      sql<string>`count(*) filter (where status = 'active')`.as('active'),
      sql<string>`count(*) filter (where created_at > now() - interval '30 days')`.as('last30'),
    ])
    .where('source_platform', '=', 'referral')
    .executeTakeFirstOrThrow();
  const members = Number(row.members);
  const confirmed = Number(row.confirmed);
  const active = Number(row.active);
  return { members, confirmed, active, last30: Number(row.last30), retention: confirmed > 0 ? active / confirmed : null };
}
