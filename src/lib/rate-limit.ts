import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { dbNow } from './sql.ts';

/**
 * Fixed-window rate limits kept in Postgres, so they hold across every web process.
 * Keys are HMACs made by the caller (never a raw IP or address). One upsert per hit.
 */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export interface RateVerdict {
  allowed: boolean;
  /** Seconds until the window resets (for a Retry-After header). */
  retryAfter: number;
}

export async function hitRateLimit(db: Kysely<Database>, key: string, rule: RateLimit): Promise<RateVerdict> {
  const row = await sql<{ hits: number; retry_after: number }>`
    insert into rate_limits as r (key, window_start, hits)
    values (${key}, to_timestamp(floor(extract(epoch from now()) / ${rule.windowSeconds}) * ${rule.windowSeconds}), 1)
    on conflict (key, window_start) do update set hits = r.hits + 1
    returning hits,
      ceil(extract(epoch from (window_start + make_interval(secs => ${rule.windowSeconds}) - now())))::int as retry_after
  `.execute(db);
  const { hits, retry_after } = row.rows[0]!;
  return { allowed: hits <= rule.limit, retryAfter: Math.max(1, retry_after) };
}

/** The verdict the next hit would get, without counting one (hits so far must stay below the limit). */
export async function peekRateLimit(db: Kysely<Database>, key: string, rule: RateLimit): Promise<RateVerdict> {
  const row = await sql<{ hits: number; retry_after: number }>`
    select hits, ceil(extract(epoch from (window_start + make_interval(secs => ${rule.windowSeconds}) - now())))::int as retry_after
    from rate_limits
    where key = ${key}
      and window_start = to_timestamp(floor(extract(epoch from now()) / ${rule.windowSeconds}) * ${rule.windowSeconds})
  `.execute(db);
  const found = row.rows[0];
  if (!found) return { allowed: true, retryAfter: 0 };
  return { allowed: found.hits < rule.limit, retryAfter: Math.max(1, found.retry_after) };
}

/** Deletes finished windows; run from a periodic job. */
export async function pruneRateLimits(db: Kysely<Database>, olderThanSeconds = 86_400): Promise<void> {
  await db
    .deleteFrom('rate_limits')
    .where('window_start', '<', dbNow({ seconds: -olderThanSeconds }))
    .execute();
}
