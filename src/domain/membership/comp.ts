import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/**
 * Complimentary access: staff put a member on any tier (updateMember with a tier and an optional
 * compUntil). When the date passes, the member returns to the free tier: expireComps, run hourly
 * by the worker.
 */
/** Ends complimentary access whose date has passed; returns how many members went back to free. */
export async function expireComps(db: Kysely<Database>): Promise<number> {
  const rows = await sql<{ id: string }>`
    -- Back to the tier a member pays for, if any (an active Stripe subscription), else free.
    with paying as (
      select distinct on (member_id) member_id, tier_id from subscriptions
      where status in ('active', 'trialing') and tier_id is not null
      order by member_id, updated_at desc
    )
    update members m
    set tier_id = coalesce(p.tier_id, (select id from tiers where slug = 'free')),
        tier_source = case when p.tier_id is null then 'default' else 'stripe' end,
        comp_until = null, updated_at = now()
    from members m2 left join paying p on p.member_id = m2.id
    where m.id = m2.id and m.tier_source = 'comp' and m.comp_until is not null and m.comp_until <= now()
    returning m.id
  `.execute(db);
  if (rows.rows.length > 0) {
    await sql`insert into events (member_id, type, data) select id, 'status_changed', '{"comp_ended":true}' from unnest(${rows.rows.map((r) => r.id)}::bigint[]) as id`.execute(
      db,
    );
  }
  return rows.rows.length;
}
