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
          count(distinct member_id) filter (where kind = 'open' and not machine) as unique_human_opens,
          count(*) filter (where kind = 'click' and not machine) as human_clicks, count(distinct member_id) filter (where kind = 'click' and not machine) as unique_human_clicks
        from engagement_events where send_id = ${id} and occurred_at <= ${now}
      `.execute(db);
      const r = await statsSend(db, id);
      const d = direct.rows[0]!;
      expect({ h: r.opens.human, uo: r.opens.unique_human, m: r.opens.machine, c: r.clicks.human, u: r.clicks.unique_human }).toEqual({
        h: Number(d.human_opens),
        uo: Number(d.unique_human_opens),
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
    // Scores (recomputed after a completed run only for the members whose days moved) against
    // every member's score from the window's days.
    const scores = await sql<{ diff: string; scored: string }>`
      select count(*) filter (where coalesce(c.score, 0) <> coalesce(s.score, 0)) as diff, count(*) filter (where s.score > 0) as scored
      from (
        select member_id, least(5,
            case when sum(clicks) >= 3 then 2 when sum(clicks) > 0 then 1 else 0 end
          + case when sum(reads) >= 3 then 2 when sum(reads) > 0 then 1 else 0 end
          + case when sum(comments) + sum(reactions) > 0 then 1 else 0 end) as score
        from stats_member_days where day > (${now}::timestamptz at time zone 'UTC')::date - 30 group by member_id
      ) c full join stats_members s on s.member_id = c.member_id
    `.execute(db);
    expect(Number(scores.rows[0]!.diff)).toBe(0);
    expect(Number(scores.rows[0]!.scored)).toBeGreaterThan(0);
    // Cohorts (kept incrementally, rollup.ts rebuildCohorts) against a whole recount from the
    // member days, as the rollup counted them before it was incremental.
    const cohorts = await sql<{ diff: string }>`
      with whole as (
        select coalesce(source_platform, '') as platform, week, k as offset_week, sum(members)::int as members, sum(subscribed)::int as subscribed, sum(engaged)::int as engaged
        from (
          with c as (
            select m.id, m.source_platform, date_trunc('week', m.created_at at time zone 'UTC')::date as week,
              case when m.status in ('unsubscribed', 'bounced', 'complained') then coalesce(m.unsubscribed_at, m.updated_at) end as left_at
            from members m
            where m.confirmed_at is not null and m.created_at >= date_trunc('week', ${now}::timestamptz at time zone 'UTC')::date - make_interval(weeks => 25) and m.created_at <= ${now}
          ),
          e as (
            select c.id, c.source_platform, c.week, (date_trunc('week', d.day)::date - c.week) / 7 as k
            from c join stats_member_days d on d.member_id = c.id and d.day >= c.week group by 1, 2, 3, 4
          ),
          o as (select c.*, k from c cross join lateral generate_series(0, (date_trunc('week', ${now}::timestamptz at time zone 'UTC')::date - c.week) / 7) k)
          select o.source_platform, o.week, o.k, count(*) as members,
            count(*) filter (where o.left_at is null or o.left_at >= (o.week + (o.k + 1) * 7)::timestamp at time zone 'UTC') as subscribed, 0 as engaged
          from o group by 1, 2, 3
          union all
          select e.source_platform, e.week, e.k, 0, 0, count(*) from e group by 1, 2, 3
        ) counted
        group by grouping sets ((source_platform, week, k), (week, k))
      ),
      kept as (select platform, week, offset_week, members, subscribed, engaged from stats_cohorts)
      select count(*) as diff from ((select * from whole except select * from kept) union all (select * from kept except select * from whole)) d
    `.execute(db);
    expect(Number(cohorts.rows[0]!.diff)).toBe(0);
    expect(
      Number((await sql<{ n: string }>`select count(*) as n from stats_cohorts where engaged > 0`.execute(db)).rows[0]!.n),
    ).toBeGreaterThan(0);
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

  // stats_members' indexes as the migrations made them (a first run drops and rebuilds them).
  const memberIndexes = async () =>
    (
      await sql<{ def: string }>`select indexdef as def from pg_indexes where tablename = 'stats_members' order by indexname`.execute(t.db)
    ).rows.map((r) => r.def);
  let migratedIndexes: string[] = [];

  it('equals a direct count after a first run', async () => {
    migratedIndexes = await memberIndexes();
    expect(migratedIndexes).toHaveLength(4);
    const keyOid = async () =>
      (await sql<{ oid: string }>`select 'stats_members_pkey'::regclass::oid::text as oid`.execute(t.db)).rows[0]!.oid;
    const before = await keyOid();
    await refreshStats(t.db, { now: ago(1) });
    await expectEqualToDirectCount(t.db, ago(1));
    // It filled stats_members without its indexes (rollup.ts startMembersBulkFill) and built them
    // after: the same definitions, a new primary-key index.
    expect(await keyOid()).not.toBe(before);
    expect(await memberIndexes()).toEqual(migratedIndexes);
    const key = await sql<{
      n: string;
    }>`select count(*) as n from pg_constraint where conrelid = 'stats_members'::regclass and contype = 'p'`.execute(t.db);
    expect(Number(key.rows[0]!.n)).toBe(1);
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

  it('goes on from an interrupted first run that was filling member days without their indexes, and builds them', async () => {
    // A first run fills an empty stats_member_days without its primary key and day index
    // (rollup.ts startBulkFill); as if one had committed its chunks up to 20 days ago and stopped.
    const stopped = new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth(), NOW.getUTCDate()) - 20 * 86_400_000);
    await sql`delete from stats_state where name = 'engagement'`.execute(t.db);
    await sql`insert into stats_state (name, value) values ('engagement_progress:UTC', ${stopped})`.execute(t.db);
    await sql`delete from stats_member_days where day >= ${stopped}::date`.execute(t.db);
    await sql`alter table stats_member_days drop constraint stats_member_days_pkey`.execute(t.db);
    await sql`drop index stats_member_days_day_idx`.execute(t.db);
    await refreshStats(t.db, { now: NOW });
    await expectEqualToDirectCount(t.db, NOW);
    const indexes = await sql<{ name: string; primary: boolean }>`
      select c.relname as name, i.indisprimary as primary from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = 'stats_member_days'::regclass order by 1`.execute(t.db);
    expect(indexes.rows).toEqual([
      { name: 'stats_member_days_day_idx', primary: false },
      { name: 'stats_member_days_pkey', primary: true },
    ]);
  });

  it('builds the member indexes of a first run stopped after filling stats_members, before anything else', async () => {
    // As if the run had committed (stats_members filled, the run marked done) and stopped before
    // its last transaction built the indexes: the next run builds them, then upserts as usual.
    await sql`alter table stats_members drop constraint stats_members_pkey`.execute(t.db);
    await sql`drop index stats_members_engaged_idx, stats_members_score_idx, stats_members_active_idx`.execute(t.db);
    await scatter(t.db, 300, 3, [0.05, 0.4]);
    await refreshStats(t.db, { now: NOW });
    await expectEqualToDirectCount(t.db, NOW);
    expect(await memberIndexes()).toEqual(migratedIndexes);
  });

  it('fills stats_members again in bulk after a first run stopped with it emptied and unindexed', async () => {
    // Stopped before its last transaction committed: the table as startMembersBulkFill left it.
    await sql`delete from stats_state where name = 'engagement'`.execute(t.db);
    await sql`delete from stats_members`.execute(t.db);
    await sql`alter table stats_members drop constraint stats_members_pkey`.execute(t.db);
    await sql`drop index stats_members_engaged_idx, stats_members_score_idx, stats_members_active_idx`.execute(t.db);
    await refreshStats(t.db, { now: NOW });
    await expectEqualToDirectCount(t.db, NOW);
    expect(await memberIndexes()).toEqual(migratedIndexes);
  });

  it("takes a live send's opens and clicks from its counters, and recounts only its recent hours", async () => {
    const live = sendIds.at(-1)!; // prepared 6 days before NOW: within the live window
    const counters = sql`
      insert into send_live_counts (send_id, link, human_opens, unique_human_opens, machine_opens, human_clicks, unique_human_clicks, machine_clicks)
      select ${live}, coalesce(link, -1),
        count(*) filter (where kind = 'open' and not machine), count(distinct member_id) filter (where kind = 'open' and not machine),
        count(*) filter (where kind = 'open' and machine), count(*) filter (where kind = 'click' and not machine),
        count(distinct member_id) filter (where kind = 'click' and not machine), count(*) filter (where kind = 'click' and machine)
      from engagement_events where send_id = ${live} and kind in ('open', 'click') and occurred_at <= ${NOW}
      group by grouping sets ((), (link)) having grouping(link) = 1 or link is not null`;
    await counters.execute(t.db);
    // The writer also counted 1,000 opens that are not among the events: the rollup shows them,
    // so its figures came from the counters, not from a scan.
    await sql`update send_live_counts set human_opens = human_opens + 1000 where send_id = ${live} and link = -1`.execute(t.db);
    await sql`update send_live_counts set human_clicks = human_clicks + 7 where send_id = ${live} and link = 2`.execute(t.db);
    const before = await sql<{ human_opens: number }>`select human_opens from stats_sends where send_id = ${live}`.execute(t.db);
    await refreshStats(t.db, { now: NOW });
    const rolled = await sql<{ human_opens: number }>`select human_opens from stats_sends where send_id = ${live}`.execute(t.db);
    expect(rolled.rows[0]!.human_opens).toBe(before.rows[0]!.human_opens + 1000);
    const link2 = await sql<{
      human_clicks: number;
    }>`select human_clicks from stats_send_links where send_id = ${live} and link = 2`.execute(t.db);
    const direct2 = await sql<{ n: string }>`
      select count(*) as n from engagement_events where send_id = ${live} and kind = 'click' and link = 2 and not machine and occurred_at <= ${NOW}`.execute(
      t.db,
    );
    expect(link2.rows[0]!.human_clicks).toBe(Number(direct2.rows[0]!.n) + 7);
    // Hours: the same as a direct count, the recent ones recounted, the earlier ones kept.
    const hours = async () =>
      (
        await sql<{ hour: number; human_opens: number; machine_opens: number; human_clicks: number }>`
          select hour, human_opens, machine_opens, human_clicks from stats_send_hours where send_id = ${live} order by hour`.execute(t.db)
      ).rows;
    const direct = await sql<{ hour: number; human_opens: number; machine_opens: number; human_clicks: number }>`
      select h as hour, count(*) filter (where kind = 'open' and not machine)::int as human_opens, count(*) filter (where kind = 'open' and machine)::int as machine_opens,
        count(*) filter (where kind = 'click' and not machine)::int as human_clicks
      from (select kind, machine, floor(extract(epoch from occurred_at - s.prepared_at) / 3600)::int as h
            from engagement_events e join sends s on s.id = e.send_id where e.send_id = ${live} and kind in ('open', 'click') and occurred_at <= ${NOW}) x
      where h between 0 and 167 group by h order by h`.execute(t.db);
    expect(await hours()).toEqual(direct.rows);
    // Without counters (pruned, or events that never went through the writer) it counts the events again.
    await sql`delete from send_live_counts where send_id = ${live}`.execute(t.db);
    await refreshStats(t.db, { now: NOW });
    await expectEqualToDirectCount(t.db, NOW);
    expect(await hours()).toEqual(direct.rows);
  });

  it('lets one run through at a time', async () => {
    const results = await Promise.all([refreshStats(t.db, { now: NOW }), refreshStats(t.db, { now: NOW })]);
    expect(results.filter((r) => r.skipped)).toHaveLength(1);
    await expectEqualToDirectCount(t.db, NOW);
  });

  it("recounts a cohort week whole when its members change, and keeps the others' earlier weeks", async () => {
    // A pending member of an old cohort week confirms, another moves platform; both engaged weeks ago.
    const [pending, moved] = (
      await sql<{ id: string }>`
        (select id from members where confirmed_at is null and created_at > ${NOW}::timestamptz - interval '150 days' order by id limit 1)
        union all
        (select id from members where confirmed_at is not null and created_at > ${NOW}::timestamptz - interval '150 days' order by id desc limit 1)`.execute(
        t.db,
      )
    ).rows.map((r) => r.id);
    // Both read a post on the day of the last run, counted by the next run into the week of NOW.
    for (const id of [pending!, moved!]) {
      await sql`insert into engagement_events (occurred_at, kind, member_id, post_id, machine) values (${ago(0, -3600)}, 'read', ${id}, ${post}, false)`.execute(
        t.db,
      );
    }
    await refreshStats(t.db, { now: ago(-8) });
    await sql`update members set confirmed_at = created_at + interval '1 day', status = 'active' where id = ${pending!}`.execute(t.db);
    await sql`update members set source_platform = 'mastodon' where id = ${moved!}`.execute(t.db);
    // The week of those reads is now before the run's window: only a whole recount of the two
    // members' cohort weeks counts their reads there.
    await refreshStats(t.db, { now: ago(-15) });
    await expectEqualToDirectCount(t.db, ago(-15));
    const mastodon = await statsCohorts(t.db, { platform: 'mastodon' });
    expect(mastodon.cohorts.flatMap((c) => c.weeks).some((w) => w.engaged > 0)).toBe(true);
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
