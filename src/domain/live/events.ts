import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { LiveType } from './facts.ts';

/**
 * The staff live feed's facts (README "Live"). Each is one live_events row written in the
 * transaction of the fact itself, so it shows exactly when the fact commits and never for one that
 * rolled back. Its seq (given at commit, in commit order: migration 0040) is the stream's `id:`.
 */
export { LIVE_TYPES, type LiveType } from './facts.ts';

/** Ids, a status, a platform; an email address only under `email` (left out for roles that may not read members). */
export type LiveData = Record<string, string | number | boolean | null>;

export interface LiveEvent {
  seq: string;
  type: LiveType;
  data: LiveData;
  at: string;
}

/** Records one fact for the live feed, in the caller's transaction. `key`: at most once per key. */
export async function publishLive(db: Kysely<Database>, type: LiveType, data: LiveData, options: { key?: string } = {}): Promise<void> {
  await db
    .insertInto('live_events')
    .values({ type, data: JSON.stringify(data), key: options.key ?? null })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
}

/** Facts after `seq`, oldest first (committed ones only: seq is null until commit). */
export async function liveEventsAfter(db: Kysely<Database>, seq: string, limit = 1000): Promise<LiveEvent[]> {
  const rows = await db
    .selectFrom('live_events')
    .select(['seq', 'type', 'data', 'created_at'])
    .where('seq', '>', seq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ seq: r.seq!, type: r.type as LiveType, data: r.data as LiveData, at: r.created_at.toISOString() }));
}

/** The last seq given (0 when none): where a stream "from now" starts. */
export async function latestLiveSeq(db: Kysely<Database>): Promise<string> {
  const row = await sql<{ seq: string | null }>`select max(seq)::text as seq from live_events`.execute(db);
  return row.rows[0]?.seq ?? '0';
}

/** The oldest seq still kept, for telling a too-old Last-Event-ID apart. */
export async function oldestLiveSeq(db: Kysely<Database>): Promise<string | null> {
  const row = await sql<{ seq: string | null }>`select min(seq)::text as seq from live_events`.execute(db);
  return row.rows[0]?.seq ?? null;
}

/** What a role may see of a fact's data: no email address without members:read (a moderator). */
export function visibleData(data: Record<string, unknown>, seesEmails: boolean): Record<string, unknown> {
  if (seesEmails || !('email' in data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([k]) => k !== 'email'));
}

/** The latest facts, newest first (the Live page's first paint). */
export async function recentLiveEvents(db: Kysely<Database>, limit = 50): Promise<LiveEvent[]> {
  const rows = await db
    .selectFrom('live_events')
    .select(['seq', 'type', 'data', 'created_at'])
    .where('seq', 'is not', null)
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ seq: r.seq!, type: r.type as LiveType, data: r.data as LiveData, at: r.created_at.toISOString() }));
}
