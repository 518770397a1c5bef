import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/types.ts';
import { memberEngagement, statsCohorts, statsOverview, statsSend, statsSources } from '../../src/domain/stats/read.ts';
import { refreshStats } from '../../src/domain/stats/rollup.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost } from '../helpers/sending.ts';

// A fixed "now" (a Monday, noon UTC) so that every window of the fixture is known by hand.
const NOW = new Date('2026-06-15T12:00:00Z');
const ago = (days: number, plusSeconds = 0) => new Date(NOW.getTime() - days * 86_400_000 + plusSeconds * 1000);

async function member(db: Kysely<Database>, m: { email: string; platform: string; status: string; tier?: string; created: number; confirmed?: number; unsubscribed?: number; updated?: number; campaign?: string }) {
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
    await sql`insert into deliveries (send_id, member_id, email, variant, status, posted_at) values (${id}, ${m}, 'x@example.com', 'a', 'posted', ${ago(daysAgo, 30)})`.execute(db);
  }
  return id;
}

const ev = (db: Kysely<Database>, e: { kind: string; member?: string | null; send?: string; post?: string; link?: number; at: Date; machine?: boolean }) =>
  sql`insert into engagement_events (occurred_at, kind, member_id, send_id, post_id, link, machine) values (${e.at}, ${e.kind}, ${e.member ?? null}, ${e.send ?? null}, ${e.post ?? null}, ${e.link ?? null}, ${e.machine ?? false})`.execute(db);
const fact = (db: Kysely<Database>, memberId: string, type: string, at: Date, data: Record<string, unknown> = {}) =>
  sql`insert into events (member_id, type, occurred_at, data) values (${memberId}, ${type}, ${at}, ${JSON.stringify(data)}::jsonb)`.execute(db);

describe('stats on a hand-computed fixture', () => {
  let t: TestDatabase;
  const ids: Record<string, string> = {};
  let s1 = '';
  let s2 = '';
  let post = '';

  beforeAll(async () => {
    t = await createTestDatabase();
    const db = t.db;
    await sql`insert into tiers (slug, name, paid, monthly_amount, yearly_amount, currency, stripe_monthly_price_id, stripe_yearly_price_id) values ('gold', 'Gold', true, 500, 4800, 'usd', 'price_m', 'price_y')`.execute(db);
    ids.a = await member(db, { email: 'a@example.com', platform: 'instagram', status: 'active', created: 100, confirmed: 100, campaign: 'spring' });
    ids.b = await member(db, { email: 'b@example.com', platform: 'instagram', status: 'active', tier: 'gold', created: 40, confirmed: 40 });
    ids.c = await member(db, { email: 'c@example.com', platform: 'tiktok', status: 'unsubscribed', created: 100, confirmed: 100, unsubscribed: 20, updated: 20, campaign: 'spring' });
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
    await sql`insert into send_links (send_id, link, url) values (${s2}, 1, 'https://example.com/one'), (${s2}, 2, 'https://example.com/two')`.execute(db);
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
    expect(ig).toMatchObject({ signups: 2, confirmed: 2, retained_30: 2, retained_30_rate: 1, retained_90: 1, emailed: 2, engaged: 1, engaged_rate: 0.5, paid: 1, mrr_cents: 500 });
    const tt = s.platforms.find((p) => p.platform === 'tiktok')!;
    // C confirmed 100 days ago, left at day 80: still there after 30 days, not after 90.
    expect(tt).toMatchObject({ signups: 2, confirmed: 1, confirmation_rate: 0.5, retained_30: 1, retained_90: 0, retained_90_rate: 0 });
    expect(s.platforms.find((p) => p.platform === 'x')).toMatchObject({ signups: 1, paid: 1, paid_rate: 1, mrr_cents: 400, retained_30_rate: null });
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
    expect(week.weeks.map((w) => [w.offset, w.subscribed, w.engaged])).toEqual([[0, 1, 0], [1, 1, 1], [2, 1, 0]]);
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
