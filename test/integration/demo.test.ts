import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { getAudienceSettings } from '../../src/domain/landing/settings.ts';
import { referralChannel, referralTotals } from '../../src/domain/referrals/stats.ts';
import { statsOverview, statsSources, recentSendStats } from '../../src/domain/stats/read.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/** A fresh demo tells the truth: what the seed implies shows on every page, and pages agree. */
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 400 });
});
afterAll(async () => {
  await t?.drop();
});

async function count(query: ReturnType<typeof sql<{ n: string }>>): Promise<number> {
  return Number((await query.execute(t.db)).rows[0]!.n);
}

describe('a fresh demo', () => {
  it('has Stats figures right after seeding (no ten-minute wait), equal to a direct count', async () => {
    const overview = await statsOverview(t.db);
    const active = await count(sql`select count(*) as n from members where status = 'active'`);
    const paidActive = await count(
      sql`select count(*) as n from members m join tiers t on t.id = m.tier_id where m.status = 'active' and t.paid`,
    );
    expect(overview.as_of).not.toBeNull();
    // The dashboard's member count and Stats' agree.
    expect(overview.members.total).toBe(active);
    expect(paidActive).toBeGreaterThan(0);
    expect(overview.members.paid).toBe(paidActive);
    // Every paying member has a subscription at the tier's monthly price ($6.00).
    expect(overview.mrr.cents).toBe(paidActive * 600);
    expect(overview.engagement.emailed).toBeGreaterThan(0);
    expect(overview.engagement.engaged).toBeGreaterThan(0);
    expect(overview.engagement.engaged).toBeLessThanOrEqual(overview.engagement.emailed);
  });

  it('shows paid members, MRR and engagement per source, adding up to the overview', async () => {
    const sources = await statsSources(t.db);
    const platforms = sources.platforms;
    expect(platforms.reduce((s, p) => s + p.mrr_cents, 0)).toBe((await statsOverview(t.db)).mrr.cents);
    expect(platforms.reduce((s, p) => s + p.paid, 0)).toBeGreaterThan(0);
    expect(platforms.filter((p) => p.engaged > 0).length).toBeGreaterThan(1);
  });

  it('has past sends with deliveries and human engagement, and referrals that count', async () => {
    const sends = await recentSendStats(t.db, 10);
    expect(sends.length).toBe(3);
    const deliveries = await count(sql`select count(*) as n from deliveries`);
    expect(deliveries).toBeGreaterThan(0);
    const human = await count(sql`select count(*) as n from engagement_events where not machine and kind in ('click', 'read')`);
    expect(human).toBeGreaterThan(0);

    const channel = await referralChannel(t.db);
    const totals = await referralTotals(t.db);
    expect(channel.members).toBeGreaterThan(0);
    // Every member from the referral channel was referred by someone: the two pages agree.
    expect(totals.counted + totals.pending).toBe(channel.members);
    expect(totals.counted).toBe(channel.confirmed);
    expect(totals.referrers).toBeGreaterThan(0);
  });

  it('has link-in-bio links and a question answered and one waiting', async () => {
    expect((await getAudienceSettings(t.db)).links.length).toBeGreaterThan(0);
    const questions = await t.db
      .selectFrom('comments')
      .select(sql<boolean>`answered_at is not null`.as('answered'))
      .where('question', '=', true)
      .orderBy('id')
      .execute();
    expect(questions.map((q) => q.answered)).toEqual([true, false]);
  });

  it('leaves a send cancelled before any email left out of "Latest sends"', async () => {
    const post = await t.db.selectFrom('posts').select('id').orderBy('id').limit(1).executeTakeFirstOrThrow();
    const cancelled = await t.db
      .insertInto('sends')
      .values({ post_id: post.id, status: 'cancelled', segment: JSON.stringify({ newsletters: [] }) })
      .returning('id')
      .executeTakeFirstOrThrow();
    const ids = (await recentSendStats(t.db, 10)).map((s) => s.id);
    expect(ids).not.toContain(cancelled.id);
    expect(ids).toHaveLength(3);
    await t.db.deleteFrom('sends').where('id', '=', cancelled.id).execute();
  });

  it("keeps each member's engagement score for the members table, equal to the member page's", async () => {
    const { memberEngagement } = await import('../../src/domain/stats/read.ts');
    const stored = await t.db.selectFrom('stats_members').select(['member_id', 'score']).execute();
    const byId = new Map(stored.map((r) => [r.member_id, r.score]));
    expect(stored.filter((r) => r.score > 0).length).toBeGreaterThan(0);
    const members = await t.db.selectFrom('members').select('id').orderBy('id').limit(150).execute();
    // At the rollup's instant: past midnight (in the site's zone) the 30-day window moves on, and the
    // stored score waits for the next rollup, so a page read at another time may rightly differ.
    const rolled = await t.db.selectFrom('stats_state').select('value').where('name', '=', 'engagement').executeTakeFirstOrThrow();
    const at = new Date(rolled.value);
    const scores = new Set<number>();
    for (const m of members) {
      const live = await memberEngagement(t.db, m.id, at);
      expect(byId.get(m.id) ?? 0, `member ${m.id}`).toBe(live.score);
      scores.add(live.score);
    }
    expect(scores.size).toBeGreaterThan(1);
  });

  it('the first stats rollup after the demo seed left nothing for the worker to queue', async () => {
    const { queueFirstRollup } = await import('../../src/domain/stats/first-rollup.ts');
    expect(await queueFirstRollup(t.db)).toBe(false);
  });

  it("sends its emails under the brand's name at the site's own domain, never as Hearth", async () => {
    const { senderFor } = await import('../../src/domain/newsletters/sender.ts');
    const weekly = await t.db.selectFrom('newsletters').select('id').where('slug', '=', 'weekly-brew').executeTakeFirstOrThrow();
    for (const ids of [[], [weekly.id]]) {
      const sender = await senderFor(t.db, { siteUrl: 'https://news.fieldnotes.example' }, ids);
      expect(sender.from).toMatch(/^"Field Notes Coffee" <[^@>]+@news\.fieldnotes\.example>$/);
      expect(sender.from).not.toMatch(/"Hearth"/);
    }
    // The demo's members have reserved example.com addresses: nothing it sends reaches a real inbox.
    const domains = await t.db
      .selectFrom('members')
      .select(sql<string>`split_part(email, '@', 2)`.as('d'))
      .distinct()
      .execute();
    expect(domains.map((r) => r.d)).toEqual(['example.com']);
  });

  it('adds members on a second seed without repeating the story', async () => {
    const sendsBefore = await count(sql`select count(*) as n from sends`);
    await seedDemo(t.db, { members: 10 });
    expect(await count(sql`select count(*) as n from sends`)).toBe(sendsBefore);
    expect(await count(sql`select count(*) as n from comments where question`)).toBe(2);
  });
});
