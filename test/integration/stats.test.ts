import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/types.ts';
import { memberEngagement, statsCohorts, statsOverview, statsSend, statsSources } from '../../src/domain/stats/read.ts';
import { refreshStats } from '../../src/domain/stats/rollup.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { countRecipients, parseSegmentInput, resolveSegment } from '../../src/domain/sending/segments.ts';

// A fixed "now" (a Monday, noon UTC) so that every window of the fixture is known by hand.
const NOW = new Date('2026-06-15T12:00:00Z');
const ago = (days: number, plusSeconds = 0) => new Date(NOW.getTime() - days * 86_400_000 + plusSeconds * 1000);

async function member(
  db: Kysely<Database>,
  m: {
    email: string;
    platform: string;
    status: string;
    tier?: string;
    created: number;
    confirmed?: number;
    unsubscribed?: number;
    updated?: number;
    campaign?: string;
  },
) {
  const row = await sql<{ id: string }>`
    insert into members (email, status, tier_id, referral_code, source_platform, utm_campaign, created_at, confirmed_at, unsubscribed_at, updated_at)
    values (${m.email}, ${m.status}, (select id from tiers where slug = ${m.tier ?? 'free'}), md5(${m.email}), ${m.platform}, ${m.campaign ?? null},
      ${ago(m.created)}, ${m.confirmed === undefined ? null : ago(m.confirmed)}, ${m.unsubscribed === undefined ? null : ago(m.unsubscribed)}, ${ago(m.updated ?? m.created)})
    returning id
  `.execute(db);
  return row.rows[0]!.id;
}

async function send(db: Kysely<Database>, postId: string, daysAgo: number, memberIds: string[]) {
  const row = await sql<{ id: string }>`
    insert into sends (post_id, status, segment, recipients, delivered, prepared_at, finished_at)
    values (${postId}, 'sent', '{}', ${memberIds.length}, ${memberIds.length}, ${ago(daysAgo)}, ${ago(daysAgo, 60)}) returning id
  `.execute(db);
  const id = row.rows[0]!.id;
  for (const m of memberIds) {
    await sql`insert into deliveries (send_id, member_id, email, variant, status, posted_at) values (${id}, ${m}, 'x@example.com', 'a', 'posted', ${ago(daysAgo, 30)})`.execute(
      db,
    );
  }
  return id;
}

const ev = (
  db: Kysely<Database>,
  e: { kind: string; member?: string | null; send?: string; post?: string; link?: number; at: Date; machine?: boolean },
) =>
  sql`insert into engagement_events (occurred_at, kind, member_id, send_id, post_id, link, machine) values (${e.at}, ${e.kind}, ${e.member ?? null}, ${e.send ?? null}, ${e.post ?? null}, ${e.link ?? null}, ${e.machine ?? false})`.execute(
    db,
  );
const fact = (db: Kysely<Database>, memberId: string, type: string, at: Date, data: Record<string, unknown> = {}) =>
  sql`insert into events (member_id, type, occurred_at, data) values (${memberId}, ${type}, ${at}, ${JSON.stringify(data)}::jsonb)`.execute(
    db,
  );

describe('stats on a hand-computed fixture', () => {
  let t: TestDatabase;
  const ids: Record<string, string> = {};
  let s1 = '';
  let s2 = '';
  let post = '';

  beforeAll(async () => {
    t = await createTestDatabase();
    const db = t.db;
    await sql`insert into tiers (slug, name, paid, monthly_amount, yearly_amount, currency, stripe_monthly_price_id, stripe_yearly_price_id) values ('gold', 'Gold', true, 500, 4800, 'usd', 'price_m', 'price_y')`.execute(
      db,
    );
    ids.a = await member(db, {
      email: 'a@example.com',
      platform: 'instagram',
      status: 'active',
      created: 100,
      confirmed: 100,
      campaign: 'spring',
    });
    ids.b = await member(db, { email: 'b@example.com', platform: 'instagram', status: 'active', tier: 'gold', created: 40, confirmed: 40 });
    ids.c = await member(db, {
      email: 'c@example.com',
      platform: 'tiktok',
      status: 'unsubscribed',
      created: 100,
      confirmed: 100,
      unsubscribed: 20,
      updated: 20,
      campaign: 'spring',
    });
    ids.d = await member(db, { email: 'd@example.com', platform: 'tiktok', status: 'pending', created: 2 });
    ids.e = await member(db, { email: 'e@example.com', platform: 'x', status: 'active', tier: 'gold', created: 10, confirmed: 10 });
    ids.f = await member(db, { email: 'f@example.com', platform: 'direct', status: 'bounced', created: 200, confirmed: 200, updated: 15 });
    await sql`insert into subscriptions (stripe_subscription_id, member_id, tier_id, status, price_id) values
      ('sub_b', ${ids.b}, (select id from tiers where slug = 'gold'), 'active', 'price_m'),
      ('sub_e', ${ids.e}, (select id from tiers where slug = 'gold'), 'active', 'price_y'),
      ('sub_f', ${ids.f}, (select id from tiers where slug = 'gold'), 'canceled', 'price_m')`.execute(db);
    await fact(db, ids.b!, 'subscription_started', ago(10), { subscription: 'sub_b', mrr_cents: 500 });
    await fact(db, ids.e!, 'subscription_started', ago(3), { subscription: 'sub_e', mrr_cents: 400 });
    await fact(db, ids.f!, 'subscription_started', ago(60), { subscription: 'sub_f', mrr_cents: 500 });
    await fact(db, ids.f!, 'subscription_ended', ago(15), { subscription: 'sub_f' });
    post = await makePost(db);
    s1 = await send(db, post, 25, [ids.c!, ids.f!]);
    s2 = await send(db, post, 5, [ids.a!, ids.b!]);
    await sql`insert into send_links (send_id, link, url) values (${s2}, 1, 'https://example.com/one'), (${s2}, 2, 'https://example.com/two')`.execute(
      db,
    );
    // A: two human clicks on link 1, a scanner's click, a human open; a comment three days ago.
    await ev(db, { kind: 'click', member: ids.a, send: s2, link: 1, at: ago(5, 40), machine: true });
    await ev(db, { kind: 'click', member: ids.a, send: s2, link: 1, at: ago(4) });
    await ev(db, { kind: 'click', member: ids.a, send: s2, link: 1, at: ago(4, 3600) });
    await ev(db, { kind: 'open', member: ids.a, send: s2, at: ago(4) });
    await fact(db, ids.a!, 'comment', ago(3));
    // B: only a privacy proxy's open.
    await ev(db, { kind: 'open', member: ids.b, send: s2, at: ago(5, 35), machine: true });
    // C: read a post a day after S1, unsubscribed five days after it.
    await ev(db, { kind: 'read', member: ids.c, post, at: ago(24) });
    await fact(db, ids.c!, 'unsubscribed', ago(20));
    // E: a comment (never emailed). Anonymous views of the post.
    await fact(db, ids.e!, 'comment', ago(1));
    await ev(db, { kind: 'view', post, at: ago(2) });
    await ev(db, { kind: 'view', post, at: ago(2, 10) });
    await ev(db, { kind: 'view', post, at: ago(2, 20), machine: true });
    const result = await refreshStats(db, { now: NOW });
    expect(result.skipped).toBe(false);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('shows every overview figure as counted by hand', async () => {
    const o = await statsOverview(t.db, { days: 90 });
    // Active members: A (free), B and E (gold).
    expect(o.members).toEqual({ free: 1, paid: 2, total: 3 });
    // Emailed in 30 days: A, B (S2), C, F (S1). Of them engaged: A (clicks), C (read). E's comment: not emailed.
    expect(o.engagement).toEqual({ days: 30, engaged: 2, emailed: 4, rate: 0.5 });
    // MRR: B monthly 500 + E yearly 4800 / 12 = 400. Gained: B 500 + E 400; lost: F's 500.
    expect(o.mrr).toEqual({ cents: 900, new_cents: 900, lost_cents: 500, net_cents: 400 });
    // Joined (confirmed) in the last 30 days: E. Left: C (unsubscribed), F (bounced).
    expect(o.last_30_days).toEqual({ joined: 1, left: 2, net: -1 });
    expect(o.day).toBe('2026-06-15');
    // Members over time: 30 days ago A, B, C and F were subscribed.
    const at = (d: number) => o.days.find((x) => x.day === ago(d).toISOString().slice(0, 10))!;
    expect(at(30).members).toBe(4);
    expect(at(0).members).toBe(3);
    expect(at(15)).toMatchObject({ left: 1, mrr_lost_cents: 500 });
    // MRR 30 days ago: only F's 500.
    expect(at(30).mrr_cents).toBe(500);
    expect(o.days).toHaveLength(90);
  });

  it('reports a send: human and machine apart, clicks per link, what it led to', async () => {
    const r = await statsSend(t.db, s2);
    expect(r.recipients).toBe(2);
    expect(r.opens).toEqual({ human: 1, unique_human: 1, machine: 1 });
    expect(r.clicks).toEqual({ human: 2, unique_human: 1, machine: 1 });
    expect(r.links).toEqual([
      { link: 1, url: 'https://example.com/one', human_clicks: 2, unique_human_clicks: 1, machine_clicks: 1 },
      { link: 2, url: 'https://example.com/two', human_clicks: 0, unique_human_clicks: 0, machine_clicks: 0 },
    ]);
    // A's comment two days after S2; B's upgrade came before S2 reached B.
    expect(r).toMatchObject({ comments: 1, upgrades: 0, unsubscribes: 0 });
    expect(r.hours.find((h) => h.hour === 0)).toMatchObject({ machine_opens: 1, human_opens: 0 });
    expect(r.hours.find((h) => h.hour === 24)).toMatchObject({ human_opens: 1, human_clicks: 1 });
    const r1 = await statsSend(t.db, s1);
    expect(r1).toMatchObject({ unsubscribes: 1, comments: 0, upgrades: 0 });
  });

  it('compares platforms and campaigns', async () => {
    const s = await statsSources(t.db);
    const ig = s.platforms.find((p) => p.platform === 'instagram')!;
    expect(ig).toMatchObject({
      signups: 2,
      confirmed: 2,
      retained_30: 2,
      retained_30_rate: 1,
      retained_90: 1,
      emailed: 2,
      engaged: 1,
      engaged_rate: 0.5,
      paid: 1,
      mrr_cents: 500,
    });
    const tt = s.platforms.find((p) => p.platform === 'tiktok')!;
    // C confirmed 100 days ago, left at day 80: still there after 30 days, not after 90.
    expect(tt).toMatchObject({ signups: 2, confirmed: 1, confirmation_rate: 0.5, retained_30: 1, retained_90: 0, retained_90_rate: 0 });
    expect(s.platforms.find((p) => p.platform === 'x')).toMatchObject({
      signups: 1,
      paid: 1,
      paid_rate: 1,
      mrr_cents: 400,
      retained_30_rate: null,
    });
    expect(s.campaigns).toEqual([expect.objectContaining({ campaign: 'spring', signups: 2, confirmed: 2, engaged: 2, emailed: 2 })]);
  });

  it('scores a member and flags cold ones', async () => {
    const a = await memberEngagement(t.db, ids.a!, NOW);
    expect(a.counts).toEqual({ clicks: 2, reads: 0, comments: 1, reactions: 0 });
    expect(a.score).toBe(2);
    expect(a.reasons).toEqual(['2 clicks in 30 days', '1 comment in 30 days']);
    expect(a.cold).toBe(false);
    const f = await memberEngagement(t.db, ids.f!, NOW);
    expect(f).toMatchObject({ score: 0, cold: true });
    const e = await memberEngagement(t.db, ids.e!, NOW);
    expect(e).toMatchObject({ score: 1, cold: false });
  });

  it('groups cohorts by signup week', async () => {
    const all = await statsCohorts(t.db, { platform: '' });
    // E (x) joined ten days ago, the week of 2026-06-01; commented yesterday, a Sunday: the week of 2026-06-08 (offset 1).
    const week = all.cohorts.find((c) => c.week === '2026-06-01')!;
    expect(week.members).toBe(1);
    expect(week.weeks.map((w) => [w.offset, w.subscribed, w.engaged])).toEqual([
      [0, 1, 0],
      [1, 1, 1],
      [2, 1, 0],
    ]);
    const tiktok = await statsCohorts(t.db, { platform: 'tiktok' });
    // C (tiktok) signed up 2026-03-07 (week of 03-02), read on 05-22 (offset 11), left on 05-26 (offset 12).
    expect(tiktok.cohorts.map((c) => [c.week, c.members])).toEqual([['2026-03-02', 1]]);
    const cells = tiktok.cohorts[0]!.weeks;
    expect(cells).toHaveLength(16);
    expect(cells[11]).toMatchObject({ subscribed: 1, engaged: 1 });
    expect(cells[12]).toMatchObject({ subscribed: 0, engaged: 0, subscribed_rate: 0 });
  });

  it('reruns to the same figures', async () => {
    const before = await statsOverview(t.db, { days: 90 });
    await refreshStats(t.db, { now: NOW });
    expect(await statsOverview(t.db, { days: 90 })).toEqual(before);
  });
});

describe('rollups against a direct count of seeded data', () => {
  let t: TestDatabase;
  let post = '';
  const sendIds: string[] = [];

  // Pseudo-random but repeatable events: members, sends, posts, kinds, machine flags, times.
  async function scatter(db: Kysely<Database>, n: number, seed: number, within: [number, number]) {
    await sql`
      insert into engagement_events (occurred_at, kind, member_id, send_id, post_id, link, machine)
      select ${NOW}::timestamptz - (${within[1]}::float8 - ((g * 7919 + ${seed}) % 1000) / 1000.0 * (${within[1]}::float8 - ${within[0]}::float8)) * interval '1 day',
        k, case when k = 'view' then null else m end, case when k in ('open', 'click') then s end, case when k in ('read', 'view') then ${post}::bigint end,
        case when k = 'click' then 1 + g % 2 end, (g + ${seed}) % 5 = 0
      from (
        select g, (array['open', 'click', 'read', 'view'])[1 + (g * 31 + ${seed}) % 4] as k,
          (select id from members order by id offset (g * 13 + ${seed}) % 60 limit 1) as m,
          (${sendIds})::bigint[] as ids, (g + ${seed}) % 3 as si
        from generate_series(1, ${n}) g
      ) x, lateral (select x.ids[1 + x.si] as s) y
    `.execute(db);
    await sql`
      insert into events (member_id, type, occurred_at, machine)
      select (select id from members order by id offset (g * 17 + ${seed}) % 60 limit 1), (array['comment', 'reaction', 'unsubscribed', 'subscription_started'])[1 + g % 4],
        ${NOW}::timestamptz - (${within[1]}::float8 - (g % 97) / 97.0 * (${within[1]}::float8 - ${within[0]}::float8)) * interval '1 day', g % 11 = 0
      from generate_series(1, ${Math.round(n / 10)}) g
    `.execute(db);
  }

  async function expectEqualToDirectCount(db: Kysely<Database>, now: Date) {
    const memberDays = await sql<{ diff: string }>`
      select count(*) as diff from (
        (select member_id, day, clicks, reads, comments, reactions from stats_member_days
         except
         select member_id, day, sum(c)::int, sum(r)::int, sum(co)::int, sum(re)::int from (
           select member_id, (occurred_at at time zone 'UTC')::date as day, (kind = 'click')::int as c, (kind = 'read')::int as r, 0 as co, 0 as re
           from engagement_events where member_id is not null and not machine and kind in ('click', 'read') and occurred_at <= ${now}
           union all
           select member_id, (occurred_at at time zone 'UTC')::date, 0, 0, (type = 'comment')::int, (type = 'reaction')::int
           from events where type in ('comment', 'reaction') and not machine and member_id is not null and occurred_at <= ${now}
         ) x group by 1, 2)
        union all
        (select member_id, day, sum(c)::int, sum(r)::int, sum(co)::int, sum(re)::int from (
           select member_id, (occurred_at at time zone 'UTC')::date as day, (kind = 'click')::int as c, (kind = 'read')::int as r, 0 as co, 0 as re
           from engagement_events where member_id is not null and not machine and kind in ('click', 'read') and occurred_at <= ${now}
           union all
           select member_id, (occurred_at at time zone 'UTC')::date, 0, 0, (type = 'comment')::int, (type = 'reaction')::int
           from events where type in ('comment', 'reaction') and not machine and member_id is not null and occurred_at <= ${now}
         ) x group by 1, 2
         except
         select member_id, day, clicks, reads, comments, reactions from stats_member_days)
      ) d
    `.execute(db);
    expect(Number(memberDays.rows[0]!.diff)).toBe(0);
    const lastEngaged = await sql<{ diff: string }>`
      select count(*) as diff from stats_members sm full join (
        select member_id, max(at) as at from (
          select member_id, occurred_at as at from engagement_events where member_id is not null and not machine and kind in ('click', 'read') and occurred_at <= ${now}
          union all select member_id, occurred_at from events where type in ('comment', 'reaction') and not machine and member_id is not null and occurred_at <= ${now}
        ) x group by member_id
      ) d on d.member_id = sm.member_id
      where sm.last_engaged_at is distinct from d.at and (sm.last_engaged_at is not null or d.at is not null)
    `.execute(db);
    expect(Number(lastEngaged.rows[0]!.diff)).toBe(0);
    for (const id of sendIds) {
      const direct = await sql<Record<string, string>>`
        select count(*) filter (where kind = 'open' and not machine) as human_opens, count(*) filter (where kind = 'open' and machine) as machine_opens,
          count(*) filter (where kind = 'click' and not machine) as human_clicks, count(distinct member_id) filter (where kind = 'click' and not machine) as unique_human_clicks
        from engagement_events where send_id = ${id} and occurred_at <= ${now}
      `.execute(db);
      const r = await statsSend(db, id);
      const d = direct.rows[0]!;
      expect({ h: r.opens.human, m: r.opens.machine, c: r.clicks.human, u: r.clicks.unique_human }).toEqual({
        h: Number(d.human_opens),
        m: Number(d.machine_opens),
        c: Number(d.human_clicks),
        u: Number(d.unique_human_clicks),
      });
      const perLink = await sql<{
        link: number;
        n: string;
      }>`select link, count(*) as n from engagement_events where send_id = ${id} and kind = 'click' and not machine and occurred_at <= ${now} group by link order by link`.execute(
        db,
      );
      expect(r.links.filter((l) => l.human_clicks > 0).map((l) => [l.link, l.human_clicks])).toEqual(
        perLink.rows.map((p) => [p.link, Number(p.n)]),
      );
    }
    const posts = await sql<{ reads: string; views: string }>`
      select count(*) filter (where kind = 'read' and not machine) as reads, count(*) filter (where kind = 'view' and not machine) as views
      from engagement_events where post_id = ${post} and occurred_at <= ${now}`.execute(db);
    const { statsPost } = await import('../../src/domain/stats/read.ts');
    const p = await statsPost(db, post);
    expect([p.reads, p.views]).toEqual([Number(posts.rows[0]!.reads), Number(posts.rows[0]!.views)]);
    const sources = await statsSources(db);
    const direct = await sql<{ platform: string; signups: string; confirmed: string }>`
      select source_platform as platform, count(*) as signups, count(confirmed_at) as confirmed from members group by 1 order by 1`.execute(
      db,
    );
    expect(sources.platforms.map((s) => [s.platform, s.signups, s.confirmed]).sort()).toEqual(
      direct.rows.map((d) => [d.platform, Number(d.signups), Number(d.confirmed)]).sort(),
    );
  }

  beforeAll(async () => {
    t = await createTestDatabase();
    const db = t.db;
    const platforms = ['instagram', 'tiktok', 'x', 'referral'];
    for (let i = 0; i < 60; i++) {
      await member(db, {
        email: `r${i}@example.com`,
        platform: platforms[i % 4]!,
        status: i % 7 === 0 ? 'unsubscribed' : i % 9 === 0 ? 'pending' : 'active',
        created: 5 + ((i * 37) % 200),
        confirmed: i % 9 === 0 ? undefined : 4 + ((i * 37) % 200),
        unsubscribed: i % 7 === 0 ? 1 + (i % 4) : undefined,
      });
    }
    post = await makePost(db);
    const all = (await sql<{ id: string }>`select id from members where status <> 'pending' order by id`.execute(db)).rows.map((r) => r.id);
    for (const d of [40, 20, 6]) sendIds.push(await send(db, post, d, all));
    for (const id of sendIds)
      await sql`insert into send_links (send_id, link, url) values (${id}, 1, 'https://example.com/1'), (${id}, 2, 'https://example.com/2')`.execute(
        db,
      );
    await scatter(db, 3000, 1, [2, 60]);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('equals a direct count after a first run', async () => {
    await refreshStats(t.db, { now: ago(1) });
    await expectEqualToDirectCount(t.db, ago(1));
  });

  it('still equals it after an incremental run, with late events from the day before', async () => {
    // New events, some dated in the last day before the previous run (committed late).
    await scatter(t.db, 1500, 2, [0.5, 1.2]);
    await refreshStats(t.db, { now: NOW });
    await expectEqualToDirectCount(t.db, NOW);
  });

  it('goes on from the last committed chunk of an interrupted first run, not from the start', async () => {
    // As if a first run had committed its chunks up to 40 days ago and then stopped.
    const stopped = new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth(), NOW.getUTCDate()) - 40 * 86_400_000);
    await sql`delete from stats_state where name = 'engagement'`.execute(t.db);
    await sql`insert into stats_state (name, value) values ('engagement_progress:UTC', ${stopped})`.execute(t.db);
    const mark = new Date('2000-01-01T00:00:00Z');
    await sql`update stats_days set computed_at = ${mark}`.execute(t.db);
    await sql`delete from stats_member_days where day >= ${stopped}::date`.execute(t.db);
    await sql`delete from stats_post_days where day >= ${stopped}::date`.execute(t.db);
    await refreshStats(t.db, { now: NOW });
    await expectEqualToDirectCount(t.db, NOW);
    // Days before the stop (less the day of margin) were not recounted; the rest were.
    const days = await sql<{ old: string; recounted: string }>`
      select count(*) filter (where day < ${stopped}::date - 1 and computed_at = ${mark}) as old,
        count(*) filter (where day >= ${stopped}::date and computed_at > ${mark}) as recounted
      from stats_days`.execute(t.db);
    expect(Number(days.rows[0]!.old)).toBeGreaterThan(0);
    expect(Number(days.rows[0]!.recounted)).toBeGreaterThan(30);
    const progress = await sql`select 1 from stats_state where name like 'engagement_progress:%'`.execute(t.db);
    expect(progress.rows).toHaveLength(0);
  });

  it('lets one run through at a time', async () => {
    const results = await Promise.all([refreshStats(t.db, { now: NOW }), refreshStats(t.db, { now: NOW })]);
    expect(results.filter((r) => r.skipped)).toHaveLength(1);
    await expectEqualToDirectCount(t.db, NOW);
  });
});

describe('the engaged and cold segments read the member rollup', () => {
  it('engaged: human engagement in 30 days; cold: none in 90 days, a member for longer', async () => {
    const t = await createTestDatabase();
    try {
      await seedAudience(t.db, 4, { prefix: 'seg' });
      const ids = (await sql<{ id: string }>`select id from members order by id`.execute(t.db)).rows.map((r) => r.id);
      await sql`update members set created_at = now() - interval '200 days' where id in (${ids[0]!}, ${ids[1]!}, ${ids[2]!})`.execute(t.db);
      await sql`insert into engagement_events (occurred_at, kind, member_id, machine) values
        (now() - interval '5 days', 'click', ${ids[0]!}, false),
        (now() - interval '60 days', 'read', ${ids[1]!}, false),
        (now() - interval '2 days', 'open', ${ids[2]!}, false),
        (now() - interval '2 days', 'click', ${ids[2]!}, true)`.execute(t.db);
      await refreshStats(t.db);
      const post = await makePost(t.db);
      const count = async (engagement: string) =>
        countRecipients(t.db, await resolveSegment(t.db, parseSegmentInput({ newsletters: ['weekly'], engagement })), post);
      expect(await count('engaged')).toBe(1);
      // The third member only opened (and a scanner clicked): cold. The fourth is new: never cold.
      expect(await count('cold')).toBe(1);
      expect(await count('any')).toBe(4);
    } finally {
      await t.drop();
    }
  });
});
