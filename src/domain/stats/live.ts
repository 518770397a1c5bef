import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ATTRIBUTION_DAYS } from './definitions.ts';

/**
 * The live part of a send's report. Opens and clicks come from send_live_counts, which the
 * tracking event writer keeps in the statement that inserts the events (src/lib/event-writer.ts):
 * current within a few milliseconds of the event, a dozen primary-key reads per report whatever
 * the send's size. Delivered, bounced and complained are the send's own counters (the provider's
 * webhooks move them). Unsubscribes are counted directly from the recent facts, with the rollup's
 * last-touch rule: few rows (one per unsubscribe since the send, each a primary-key probe of
 * deliveries), so no counter is needed.
 *
 * The rollups (stats_sends, stats_send_links) stay the history: a figure is the greater of the
 * two, since both count the same facts and each only grows; the rollup is ahead only for events
 * that did not come through the writer (older sends, pruned counters, imports).
 */
export const LIVE_DAYS = ATTRIBUTION_DAYS;

export interface LiveSendCounts {
  human_opens: number;
  unique_human_opens: number;
  machine_opens: number;
  human_clicks: number;
  unique_human_clicks: number;
  machine_clicks: number;
}

const ZERO: LiveSendCounts = {
  human_opens: 0,
  unique_human_opens: 0,
  machine_opens: 0,
  human_clicks: 0,
  unique_human_clicks: 0,
  machine_clicks: 0,
};

/** The send as a whole (link -1) and each link's clicks. */
export async function liveSendCounts(db: Kysely<Database>, sendId: string) {
  const rows = await db.selectFrom('send_live_counts').selectAll().where('send_id', '=', sendId).execute();
  const whole = rows.find((r) => r.link === -1) ?? ZERO;
  const links = new Map(rows.filter((r) => r.link >= 0).map((r) => [r.link, r]));
  return { whole, links };
}

/** Unsubscribes this send led to so far (the rollup's definition, counted now). */
export async function liveUnsubscribes(db: Kysely<Database>, sendId: string, preparedAt: Date): Promise<number> {
  const row = await sql<{ n: string }>`
    select count(*) as n
    from events e
    join deliveries d on d.send_id = ${sendId} and d.member_id = e.member_id and d.status = 'posted'
    where e.type = 'unsubscribed' and e.occurred_at >= ${preparedAt}
      and e.occurred_at >= d.posted_at and e.occurred_at < d.posted_at + make_interval(days => ${ATTRIBUTION_DAYS})
      and not exists (
        -- Through the later sends (few) and the deliveries' primary key: deliveries has no index by member.
        select 1 from sends s2 join deliveries d2 on d2.send_id = s2.id and d2.member_id = e.member_id
        where s2.id <> ${sendId} and s2.prepared_at >= ${preparedAt}::timestamptz - interval '1 day' and s2.prepared_at <= e.occurred_at
          and d2.status = 'posted' and d2.posted_at > d.posted_at and d2.posted_at <= e.occurred_at
      )
  `.execute(db);
  return Number(row.rows[0]?.n ?? 0);
}

/** Whether a send's report reads the live figures: while it goes out and for LIVE_DAYS after. */
export function isLive(preparedAt: Date | null, now = new Date()): boolean {
  return preparedAt !== null && now.getTime() - preparedAt.getTime() < LIVE_DAYS * 86_400_000;
}

/** Counters of sends past the live window (and a day's margin): the rollups hold their history. */
export async function pruneLiveSendCounts(db: Kysely<Database>): Promise<number> {
  const old = sql`(select id from sends where coalesce(prepared_at, created_at) < now() - make_interval(days => ${LIVE_DAYS + 1}))`;
  await sql`delete from send_live_firsts where send_id in ${old}`.execute(db);
  const res = await sql`delete from send_live_counts where send_id in ${old}`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}
