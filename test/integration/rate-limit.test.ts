import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hitRateLimit, peekRateLimit } from '../../src/lib/rate-limit.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

describe('rate limits in Postgres', () => {
  const rule = { limit: 5, windowSeconds: 3600 };

  it('counts hits in the window and refuses past the limit', async () => {
    for (let i = 0; i < 5; i++) expect((await hitRateLimit(t.db, 'k:inside', rule)).allowed).toBe(true);
    const refused = await hitRateLimit(t.db, 'k:inside', rule);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfter).toBeGreaterThan(0);
    expect((await peekRateLimit(t.db, 'k:inside', rule)).allowed).toBe(false);
  });

  it('still counts the hits of the window that just ended', async () => {
    // A window of 4·10⁹ s (aligned to the epoch: this one began in 1970, the previous one in 1843)
    // makes the weight of the previous window known in advance: between 0.75 and 0.5 until 2033.
    const long = { limit: 5, windowSeconds: 4_000_000_000 };
    await sql`
      insert into rate_limits (key, window_start, hits)
      values ('k:boundary', to_timestamp(-4000000000), 100), ('k:faded', to_timestamp(-4000000000), 4)
    `.execute(t.db);
    // 100 hits weighing at least 50 are far past a limit of 5…
    expect((await peekRateLimit(t.db, 'k:boundary', long)).allowed).toBe(false);
    const refused = await hitRateLimit(t.db, 'k:boundary', long);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfter).toBeGreaterThan(0);
    // …4 weighing between 2 and 3 leave room for two more hits, not three.
    expect((await hitRateLimit(t.db, 'k:faded', long)).allowed).toBe(true);
    expect((await hitRateLimit(t.db, 'k:faded', long)).allowed).toBe(true);
    expect((await hitRateLimit(t.db, 'k:faded', long)).allowed).toBe(false);
    // A key with nothing in the previous window is not affected.
    expect((await hitRateLimit(t.db, 'k:fresh', long)).allowed).toBe(true);
  });
});
