import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { pruneLiveSendCounts } from '../stats/live.ts';

/** How long the live feed keeps its rows: a client away longer resumes from the oldest kept. */
export const LIVE_EVENTS_DAYS = 3;

/** Hourly (the worker's maintenance): old live-feed rows and the counters of sends past their live window. */
export async function pruneLive(db: Kysely<Database>): Promise<void> {
  await sql`delete from live_events where created_at < now() - make_interval(days => ${LIVE_EVENTS_DAYS})`.execute(db);
  await pruneLiveSendCounts(db);
}
