import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/types.ts';
import { prepareSend } from '../../src/domain/sending/prepare.ts';
import { createSend } from '../../src/domain/sending/sends.ts';
import { createEventWriter, type EngagementRow } from '../../src/lib/event-writer.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';

/**
 * The tracking event writer under a burst: every write resolves once its event is in, the live
 * counters add up, and the writer never has two inserts in flight (two would queue on the same
 * counter row's lock: bench/RESULTS.md, issue 20).
 */
let t: TestDatabase;
let sendId = '';
let members: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 20);
  const postId = await makePost(t.db, { title: 'Links', markdown: 'See [one](https://example.org/1) and [two](https://example.org/2).' });
  sendId = (await createSend(t.db, { postId, segment: { newsletters: ['weekly'] }, undoSeconds: 0 })).id;
  await prepareSend(t.db, { siteUrl: 'http://hearth.test', from: 'a@example.com' }, sendId);
  members = (await t.db.selectFrom('deliveries').select('member_id').where('send_id', '=', sendId).orderBy('member_id').execute()).map(
    (r) => r.member_id,
  );
});
afterAll(async () => {
  await t?.drop();
});

describe('event writer', () => {
  it('writes a burst in groups, one statement at a time, and keeps the live counters exact', async () => {
    // The writer's statements, counted as they go to the database: how many in all, and the most
    // in flight at once (counted, not timed: a busy machine changes times, not this count).
    let inserts = 0;
    let inFlight = 0;
    let most = 0;
    const pool = {
      connect: async () => {
        const client = await t.pool.connect();
        return {
          query: async (...args: Parameters<typeof client.query>) => {
            const counted = typeof args[0] === 'string' && args[0].includes('insert into engagement_events');
            if (counted) {
              inserts++;
              most = Math.max(most, ++inFlight);
            }
            try {
              return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
            } finally {
              if (counted) inFlight--;
            }
          },
          release: () => client.release(),
        };
      },
      end: async () => undefined,
    };
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pool as unknown as typeof t.pool }) });
    const writer = createEventWriter(db, { maxBatch: 50, maxWaitMs: 2 });
    const rows: EngagementRow[] = [];
    for (let i = 0; i < 600; i++) {
      const member = members[i % members.length]!;
      const click = i % 3 === 0;
      rows.push({
        kind: click ? 'click' : 'open',
        member_id: member,
        send_id: sendId,
        post_id: null,
        link: click ? i % 2 : null,
        machine: i % 10 === 0,
        agent: i % 10 === 0 ? 'scanner' : 'browser',
      });
    }
    // Three waves, the later ones arriving while the first groups are being written.
    const writes: Array<Promise<void>> = [];
    for (let wave = 0; wave < 3; wave++) {
      for (const row of rows.slice(wave * 200, wave * 200 + 200)) writes.push(writer.write(row));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(writes);

    const count = await t.db
      .selectFrom('engagement_events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('send_id', '=', sendId)
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(600);

    // Grouped (at most 50 a statement), and never two statements at once.
    expect(inserts).toBeGreaterThanOrEqual(12);
    expect(inserts).toBeLessThan(600);
    expect(most).toBe(1);

    const opens = rows.filter((r) => r.kind === 'open');
    const clicks = rows.filter((r) => r.kind === 'click');
    const whole = await t.db
      .selectFrom('send_live_counts')
      .selectAll()
      .where('send_id', '=', sendId)
      .where('link', '=', -1)
      .executeTakeFirstOrThrow();
    expect(whole).toMatchObject({
      human_opens: opens.filter((r) => !r.machine).length,
      machine_opens: opens.filter((r) => r.machine).length,
      unique_human_opens: new Set(opens.filter((r) => !r.machine).map((r) => r.member_id)).size,
      human_clicks: clicks.filter((r) => !r.machine).length,
      machine_clicks: clicks.filter((r) => r.machine).length,
      unique_human_clicks: new Set(clicks.filter((r) => !r.machine).map((r) => r.member_id)).size,
    });
    const link1 = await t.db
      .selectFrom('send_live_counts')
      .selectAll()
      .where('send_id', '=', sendId)
      .where('link', '=', 1)
      .executeTakeFirstOrThrow();
    const humanLink1 = clicks.filter((r) => !r.machine && r.link === 1);
    expect(link1).toMatchObject({ human_clicks: humanLink1.length, unique_human_clicks: new Set(humanLink1.map((r) => r.member_id)).size });
  });

  it('rejects the writes of a group that could not be written, and goes on with the next', async () => {
    const writer = createEventWriter(t.db, { maxWaitMs: 1 });
    // A kind the table does not know breaks the group's statement (its check constraint).
    const bad = writer.write({
      kind: 'bogus' as 'open',
      member_id: members[0]!,
      send_id: sendId,
      post_id: null,
      link: null,
      machine: false,
      agent: 'browser',
    });
    await expect(bad).rejects.toThrow();
    await writer.write({
      kind: 'open',
      member_id: members[0]!,
      send_id: sendId,
      post_id: null,
      link: null,
      machine: false,
      agent: 'browser',
    });
    await writer.flush();
    const kinds = await t.db.selectFrom('engagement_events').select('kind').where('send_id', '=', sendId).execute();
    expect(kinds.filter((k) => k.kind === 'open')).toHaveLength(401);
  });
});
