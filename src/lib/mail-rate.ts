import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';

/**
 * The provider's request rate, shared by every worker process: a row in Postgres holds the next
 * free slot. Each request reserves a slot 1/rate after the previous one (virtual scheduling,
 * as in GCRA), then sleeps until its slot comes: ten workers on ten machines together keep
 * SEND_RATE_LIMIT requests per second, and requests are spread evenly instead of in bursts.
 * A 429 (or `ratelimit-remaining: 0`) pushes the next slot past the provider's reset time
 * for everyone. Slots are computed on the database's clock, so machines' clocks may differ.
 */
export interface RateLimiter {
  /**
   * Waits for this request's slot. Transactional mail (confirmations, magic links) always
   * takes the next free slot; bulk mail reserves only when at most two slots are already taken
   * ahead, so a confirmation never queues behind a send's lanes: it waits three slots at most.
   * `slots` reserves several at once: a batch of 100 over SMTP pays for 100 messages (on SMTP
   * a slot is a message, on Resend a request), and the next reservation starts after them.
   */
  acquire(kind?: 'bulk' | 'transactional', slots?: number): Promise<{ waitedMs: number }>;
  /** The provider asked everyone to wait `seconds`. */
  holdOff(seconds: number): Promise<void>;
}

const KEY = 'provider';

export function createRateLimiter(db: Kysely<Database>, options: { requestsPerSecond: number }): RateLimiter {
  const spacing = 1 / options.requestsPerSecond;
  return {
    async acquire(kind = 'bulk', slots = 1) {
      const started = performance.now();
      const span = spacing * Math.max(1, slots);
      for (;;) {
        // One statement: take the slot at max(next_at, now) and move next_at one spacing later.
        // Bulk takes it only while the queue of reserved slots is short (the WHERE of the update).
        const row = await sql<{ wait: number }>`
          insert into mail_rate as r (id, next_at) values (${KEY}, clock_timestamp() + make_interval(secs => ${span}))
          on conflict (id) do update
            set next_at = greatest(r.next_at, clock_timestamp()) + make_interval(secs => ${span})
            where ${kind === 'transactional'} or r.next_at <= clock_timestamp() + make_interval(secs => ${2 * spacing})
          returning extract(epoch from (r.next_at - make_interval(secs => ${span}) - clock_timestamp()))::float8 as wait
        `.execute(db);
        const reserved = row.rows[0];
        if (reserved) {
          if (reserved.wait > 0) await sleep(Math.ceil(reserved.wait * 1000));
          return { waitedMs: performance.now() - started };
        }
        await sleep(Math.max(5, Math.ceil(spacing * 1000 * (0.5 + Math.random() / 2))));
      }
    },
    async holdOff(seconds) {
      await sql`
        insert into mail_rate as r (id, next_at) values (${KEY}, clock_timestamp() + make_interval(secs => ${seconds}))
        on conflict (id) do update set next_at = greatest(r.next_at, clock_timestamp() + make_interval(secs => ${seconds}))
      `.execute(db);
    },
  };
}

/** No limit: the local outbox, and tests that measure Hearth rather than the provider. */
export const UNLIMITED: RateLimiter = { acquire: async () => ({ waitedMs: 0 }), holdOff: async () => undefined };
