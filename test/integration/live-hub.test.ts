import { sql } from 'kysely';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub, rowsAfter, type LiveRow } from '../../src/lib/live-hub.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The process's window on the live feed: facts come out in seq order, each once, also across
 * 9 → 10 (ids are text on the wire, and text order put 10 before 9), and a tick's facts together.
 */
let t: TestDatabase;
let hub: LiveHub | undefined;

const publish = (n: number) =>
  sql`insert into live_events (type, data) select 'member.created', jsonb_build_object('id', g::text) from generate_series(1, ${n}) g`.execute(
    t.db,
  );

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await hub?.stop();
  await t?.drop();
});

describe('live hub', () => {
  it('reads facts oldest first by number, across 9 → 10', async () => {
    for (let i = 0; i < 12; i++) await publish(1);
    const all = await rowsAfter(t.db, '0', 100);
    expect(all.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect((await rowsAfter(t.db, '8', 3)).map((r) => r.seq)).toEqual(['9', '10', '11']);
  });

  it('hands each fact to every subscriber once, in order, several to a tick', async () => {
    hub = new LiveHub(t.db, t.pool.options as pg.ClientConfig);
    await hub.start();
    const got: LiveRow[][] = [[], []];
    const calls = [0, 0];
    for (const k of [0, 1]) {
      hub.subscribe((rows) => {
        calls[k]!++;
        got[k]!.push(...rows);
      });
    }
    // 95 facts, one a commit, quickly: ids from 13 to 107 (past 99 → 100).
    for (let i = 0; i < 95; i++) await publish(1);
    // Then a marker (id 108): facts come in order, so once a subscriber has it, it has everything
    // it was ever going to get before it; a repeat would show as a longer list.
    await publish(1);
    for (const k of [0, 1])
      await waitFor(async () => got[k]!.some((r) => Number(r.seq) === 108), { what: `the marker on subscriber ${k}` });
    for (const k of [0, 1]) {
      expect(got[k]!.map((r) => Number(r.seq))).toEqual(Array.from({ length: 96 }, (_, i) => 13 + i));
      expect(calls[k]).toBeLessThan(96); // grouped by tick, not one call per fact
    }
  });
});
