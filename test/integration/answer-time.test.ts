import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { statsAnswers } from '../../src/domain/stats/answers.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/** Answer time: median and p90 to the first staff answer per week, and the questions still waiting with their age. */
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 3 });
});
afterAll(async () => {
  await t?.drop();
});

describe('statsAnswers', () => {
  it('gives the median and 90th percentile per week, and the waiting questions oldest first', async () => {
    const now = new Date('2026-11-25T12:00:00Z'); // a Wednesday
    const post = (await t.db.selectFrom('posts').select('id').limit(1).executeTakeFirstOrThrow()).id;
    const member = (await t.db.selectFrom('members').select('id').limit(1).executeTakeFirstOrThrow()).id;
    await sql`delete from comments`.execute(t.db);
    // This week: ten questions answered after 1..10 hours; last week: one after 30 minutes.
    for (let h = 1; h <= 10; h++) {
      await sql`insert into comments (post_id, member_id, body, question, created_at, answered_at)
        values (${post}, ${member}, ${`q${h}`}, true, ${now}::timestamptz - interval '1 day', ${now}::timestamptz - interval '1 day' + make_interval(hours => ${h}))`.execute(
        t.db,
      );
    }
    await sql`insert into comments (post_id, member_id, body, question, created_at, answered_at)
      values (${post}, ${member}, 'old', true, ${now}::timestamptz - interval '8 days', ${now}::timestamptz - interval '8 days' + interval '30 minutes')`.execute(
      t.db,
    );
    // Waiting: two, one older; a staff comment and a plain comment are not questions of members.
    await sql`insert into comments (post_id, member_id, body, question, created_at) values
      (${post}, ${member}, 'waiting new', true, ${now}::timestamptz - interval '2 hours'),
      (${post}, ${member}, 'waiting old', true, ${now}::timestamptz - interval '3 days'),
      (${post}, ${member}, 'not a question', false, ${now}::timestamptz - interval '1 hour')`.execute(t.db);

    const a = await statsAnswers(t.db, { now });
    const thisWeek = a.weeks.find((w) => w.week === '2026-11-23')!;
    expect(thisWeek).toMatchObject({ asked: 11, answered: 10 });
    expect(thisWeek.median_seconds).toBe(5.5 * 3600);
    expect(thisWeek.p90_seconds).toBe(Math.round(9.1 * 3600));
    expect(a.weeks.find((w) => w.week === '2026-11-16')).toMatchObject({ asked: 2, answered: 1, median_seconds: 1800, p90_seconds: 1800 });
    expect(a.waiting.map((q) => q.age_seconds)).toEqual([3 * 86_400, 2 * 3600]);
  });
});
