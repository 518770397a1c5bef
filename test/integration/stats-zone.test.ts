import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { statsCohorts } from '../../src/domain/stats/read.ts';
import { refreshStats } from '../../src/domain/stats/rollup.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Stats days and cohort weeks start in the site's time zone. The facts sit where UTC and the
 * zone disagree on the day (and the week): a member who joined at 13:00 UTC on Sunday 14 June
 * joined on Monday 15 June in Auckland (UTC+12), and read a post at 20:00 UTC, Monday morning
 * there. Changing the zone recounts every day in the new one.
 */
const NOW = new Date('2026-06-16T00:00:00Z');
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  const m = await sql<{ id: string }>`
    insert into members (email, status, tier_id, referral_code, source_platform, created_at, confirmed_at, updated_at)
    values ('kiwi@example.com', 'active', (select id from tiers where slug = 'free'), 'kiwi1', 'instagram',
      '2026-06-14T13:00:00Z', '2026-06-14T13:05:00Z', '2026-06-14T13:05:00Z')
    returning id`.execute(t.db);
  const memberId = m.rows[0]!.id;
  const p = await sql<{
    id: string;
  }>`insert into posts (slug, title, status, published_at) values ('p', 'P', 'published', '2026-06-01T00:00:00Z') returning id`.execute(
    t.db,
  );
  await sql`insert into engagement_events (occurred_at, kind, member_id, post_id, machine) values ('2026-06-14T20:00:00Z', 'read', ${memberId}, ${p.rows[0]!.id}, false)`.execute(
    t.db,
  );
});
afterAll(async () => {
  await t?.drop();
});

const days = async () => ({
  joined: (await sql<{ day: string }>`select day::text as day from stats_days where joined > 0`.execute(t.db)).rows.map((r) => r.day),
  memberDays: (await sql<{ day: string }>`select day::text as day from stats_member_days where reads > 0`.execute(t.db)).rows.map(
    (r) => r.day,
  ),
  postDays: (await sql<{ day: string }>`select day::text as day from stats_post_days where reads > 0`.execute(t.db)).rows.map((r) => r.day),
  cohortWeeks: (await statsCohorts(t.db)).cohorts.map((c) => c.week),
});

describe('stats in the site time zone', () => {
  it('counts in UTC by default', async () => {
    await refreshStats(t.db, { now: NOW });
    expect(await days()).toEqual({
      joined: ['2026-06-14'],
      memberDays: ['2026-06-14'],
      postDays: ['2026-06-14'],
      cohortWeeks: ['2026-06-08'],
    });
  });

  it('in Pacific/Auckland: the join, the read and the cohort move to Monday 15 June, recounted whole', async () => {
    await saveSiteSettings(t.db, { timeZone: 'Pacific/Auckland' });
    await refreshStats(t.db, { now: NOW });
    expect(await days()).toEqual({
      joined: ['2026-06-15'],
      memberDays: ['2026-06-15'],
      postDays: ['2026-06-15'],
      cohortWeeks: ['2026-06-15'],
    });
    // An incremental run in the same zone changes nothing.
    await refreshStats(t.db, { now: new Date(NOW.getTime() + 600_000) });
    expect((await days()).joined).toEqual(['2026-06-15']);
  });

  it('in America/Los_Angeles (UTC−7 in June): the same facts fall on Sunday 14 June, in the week of 8 June', async () => {
    await saveSiteSettings(t.db, { timeZone: 'America/Los_Angeles' });
    await refreshStats(t.db, { now: NOW });
    expect(await days()).toEqual({
      joined: ['2026-06-14'],
      memberDays: ['2026-06-14'],
      postDays: ['2026-06-14'],
      cohortWeeks: ['2026-06-08'],
    });
  });
});
