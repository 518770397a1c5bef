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
    update members set tier_id = (select id from tiers where slug = 'free'), tier_source = 'default', comp_until = null, updated_at = now()
    where tier_source = 'comp' and comp_until is not null and comp_until <= now()
    returning id
  `.execute(db);
  if (rows.rows.length > 0) {
    await sql`insert into events (member_id, type, data) select id, 'status_changed', '{"comp_ended":true}' from unnest(${rows.rows.map((r) => r.id)}::bigint[]) as id`.execute(db);
  }
  return rows.rows.length;
}
