import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { dbNow } from './sql.ts';

/**
 * Rate limits kept in Postgres, so they hold across every web process. Keys are HMACs made by the
 * caller (never a raw IP or address). One statement per hit.
 *
 * A sliding-window counter: hits are counted per fixed window, and a hit is judged on this
 * window's hits plus the previous window's weighted by how much of it still overlaps the last
 * `windowSeconds`. A plain fixed window lets a client make twice the limit across a boundary
 * (the limit at 10:14:59 and again at 10:15:00); this does not, and costs one more index probe.
 */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export interface RateVerdict {
  allowed: boolean;
  /** Seconds until a hit would be allowed again (for a Retry-After header). */
  retryAfter: number;
}

interface WindowCounts {
  hits: number;
  prev_hits: number;
  /** Seconds into the current window. */
  elapsed: number;
}

/** The sliding estimate, and how long until it falls to `limit - 1` (room for one more hit). */
export function judge(counts: WindowCounts, rule: RateLimit, allowedWhen: (estimate: number) => boolean): RateVerdict {
  const w = rule.windowSeconds;
  const elapsed = Math.min(Math.max(counts.elapsed, 0), w);
  const estimate = counts.hits + counts.prev_hits * (1 - elapsed / w);
  if (allowedWhen(estimate)) return { allowed: true, retryAfter: 0 };
  // Room for one more hit once the estimate is at most limit - 1.
  const room = rule.limit - 1;
  let wait: number;
  if (counts.hits <= room && counts.prev_hits > 0) {
    // The previous window's weight must fall: hits + prev·(1 − e/w) ≤ room.
    wait = w * (1 - (room - counts.hits) / counts.prev_hits) - elapsed;
  } else {
    // This window's hits become the previous window's: hits·(1 − e/w) ≤ room in the next one.
    wait = w - elapsed + w * (1 - room / Math.max(counts.hits, 1));
  }
  return { allowed: false, retryAfter: Math.max(1, Math.ceil(wait)) };
}

export async function hitRateLimit(db: Kysely<Database>, key: string, rule: RateLimit): Promise<RateVerdict> {
  const row = await sql<WindowCounts>`
    with cur as (
      insert into rate_limits as r (key, window_start, hits)
      values (${key}, to_timestamp(floor(extract(epoch from now()) / ${rule.windowSeconds}) * ${rule.windowSeconds}), 1)
      on conflict (key, window_start) do update set hits = r.hits + 1
      returning hits, window_start
    )
    select cur.hits,
      coalesce((select p.hits from rate_limits p
                where p.key = ${key} and p.window_start = cur.window_start - make_interval(secs => ${rule.windowSeconds})), 0) as prev_hits,
      extract(epoch from (now() - cur.window_start))::float8 as elapsed
    from cur
  `.execute(db);
  return judge(row.rows[0]!, rule, (estimate) => estimate <= rule.limit);
}

/** The verdict the next hit would get, without counting one (the estimate must stay below the limit). */
export async function peekRateLimit(db: Kysely<Database>, key: string, rule: RateLimit): Promise<RateVerdict> {
  const row = await sql<WindowCounts>`
    with w as (
      select to_timestamp(floor(extract(epoch from now()) / ${rule.windowSeconds}) * ${rule.windowSeconds}) as start
    )
    select
      coalesce((select r.hits from rate_limits r where r.key = ${key} and r.window_start = w.start), 0) as hits,
      coalesce((select p.hits from rate_limits p
                where p.key = ${key} and p.window_start = w.start - make_interval(secs => ${rule.windowSeconds})), 0) as prev_hits,
      extract(epoch from (now() - w.start))::float8 as elapsed
    from w
  `.execute(db);
  return judge(row.rows[0]!, rule, (estimate) => estimate < rule.limit);
}

/**
 * Deletes windows no rule can still read (the longest window is a day, and a day's limit reads
 * the day before too); run from a periodic job.
 */
export async function pruneRateLimits(db: Kysely<Database>, olderThanSeconds = 3 * 86_400): Promise<void> {
  await db
    .deleteFrom('rate_limits')
    .where('window_start', '<', dbNow({ seconds: -olderThanSeconds }))
    .execute();
}
