import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAutomation } from '../../src/domain/automations/automations.ts';
import { automationStats } from '../../src/domain/automations/stats.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * An automation's figures from seeded rows (the engine's own rows and the tracking events it
 * would leave): unique human opens and clicks per step (machine opens and scanner clicks left
 * out), conversion to paid within 30 days of entering, and a welcome sequence's 30-day retention
 * against members who joined in the 180 days before it went live.
 */
const SITE = 'https://news.example.com';
let t: TestDatabase;
let welcome: string;
let emailStep: string;

beforeAll(async () => {
  t = await createTestDatabase();
  const a = await createAutomation(
    t.db,
    SITE,
    {
      name: 'Welcome',
      trigger: { type: 'subscription_confirmed' },
      steps: [
        { type: 'email', subject: 'Welcome', markdown: 'Hello [there](https://example.com/a).' },
        { type: 'wait', duration: 'P1D' },
      ],
      status: 'live',
    },
    null,
  );
  welcome = a.id;
  emailStep = a.steps[0]!.id;
  await sql`update automations set live_since = now() - interval '60 days' where id = ${welcome}`.execute(t.db);
});
afterAll(async () => {
  await t.drop();
});

/** A member who confirmed `days` ago and, if `leftAfter` is given, unsubscribed that many days after confirming. */
async function member(email: string, days: number, leftAfter?: number): Promise<string> {
  const row = await sql<{ id: string }>`
    insert into members (email, status, tier_id, referral_code, confirmed_at, created_at, unsubscribed_at)
    values (${email}, ${leftAfter === undefined ? 'active' : 'unsubscribed'}, (select id from tiers where slug = 'free'), md5(${email}),
            now() - make_interval(days => ${days}),
            now() - make_interval(days => ${days}),
            ${leftAfter === undefined ? null : sql`now() - make_interval(days => ${days}) + make_interval(days => ${leftAfter})`})
    returning id`.execute(t.db);
  return row.rows[0]!.id;
}

const enter = (memberId: string, daysAgo: number, status = 'done') =>
  sql`insert into automation_members (automation_id, member_id, step_id, status, entered_at, due_at)
      values (${welcome}, ${memberId}, ${status === 'active' ? emailStep : null}, ${status}, now() - make_interval(days => ${daysAgo}), now())`.execute(
    t.db,
  );

const paidAt = (memberId: string, daysAgo: number) =>
  sql`insert into events (member_id, type, occurred_at, data) values (${memberId}, 'subscription_started', now() - make_interval(days => ${daysAgo}), '{}')`.execute(
    t.db,
  );

describe('automation stats', () => {
  it('counts conversion to paid within 30 days of entering, and 30-day retention against members from before', async () => {
    // Before the sequence went live (60 days ago), within the 180 days before it: 4 members, 3 kept.
    await member('b1@example.com', 100);
    await member('b2@example.com', 120);
    await member('b3@example.com', 150, 10); // left 10 days after confirming: not retained
    await member('b4@example.com', 170, 40); // left after 40 days: retained at 30
    await member('ancient@example.com', 400); // outside the 180-day window
    // With the sequence: 2 measured (confirmed 30+ days ago), 1 kept; 1 too recent to measure.
    const w1 = await member('w1@example.com', 50);
    const w2 = await member('w2@example.com', 45, 5);
    const w3 = await member('w3@example.com', 10);
    await enter(w1, 50);
    await enter(w2, 45);
    await enter(w3, 10, 'active');
    // w1 became paid 10 days after entering (counts); w3 became paid before entering (does not).
    await paidAt(w1, 40);
    await paidAt(w3, 12);
    // A member who paid 35 days after entering does not count either.
    const w4 = await member('w4@example.com', 58);
    await enter(w4, 58);
    await paidAt(w4, 58 - 35);

    const stats = await automationStats(t.db, welcome);
    expect(stats.entered).toBe(4);
    expect(stats.converted_to_paid_30d).toBe(1);
    expect(stats.conversion_rate).toBe(0.25);
    expect(stats.retention_30d).toEqual({
      with_sequence: { members: 3, retained: 2, rate: 0.667 },
      before_sequence: { members: 4, retained: 3, rate: 0.75 },
    });
  });

  it('counts unique human opens and clicks per step, leaving machine opens and scanner clicks out', async () => {
    const email = await t.db.selectFrom('automation_emails').select('id').where('step_id', '=', emailStep).executeTakeFirstOrThrow();
    const [a, b, c] = await Promise.all([member('o1@example.com', 5), member('o2@example.com', 5), member('o3@example.com', 5)]);
    const event = (kind: 'open' | 'click', memberId: string, machine: boolean) =>
      sql`insert into engagement_events (kind, member_id, send_id, link, machine) values (${kind}, ${memberId}, ${email.id}, ${kind === 'click' ? 1 : null}, ${machine})`.execute(
        t.db,
      );
    await event('open', a!, false);
    await event('open', a!, false);
    await event('open', b!, true); // Apple Mail Privacy Protection
    await event('open', c!, true);
    await event('click', a!, false);
    await event('click', a!, false);
    await event('click', b!, true); // a link scanner
    const stats = await automationStats(t.db, welcome);
    const step = stats.steps.find((s) => s.id === emailStep)!;
    expect({ opens: step.human_opens, clicks: step.human_clicks }).toEqual({ opens: 1, clicks: 1 });
    expect({ opens: stats.human_opens, clicks: stats.human_clicks }).toEqual({ opens: 1, clicks: 1 });
  });

  it('has no retention figure for an automation that is not a welcome sequence', async () => {
    const other = await createAutomation(
      t.db,
      SITE,
      { name: 'Cold', trigger: { type: 'went_cold' }, steps: [{ type: 'wait', duration: 'P1D' }], status: 'live' },
      null,
    );
    expect((await automationStats(t.db, other.id)).retention_30d).toBeNull();
  });
});
