import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { saveSiteSettings } from '../site/settings.ts';
import { dbNow } from '../../lib/sql.ts';
import { refreshStats } from '../stats/rollup.ts';
import { seedStory } from './story.ts';

/**
 * A small believable brand — a coffee roaster moving its Instagram and TikTok following onto
 * its own list — so a newcomer sees a living site. Every step is an upsert: seeding twice
 * adds members, never duplicates newsletters, tiers or posts.
 */
const POSTS = [
  {
    slug: 'why-we-left-the-algorithm',
    title: 'Why we left the algorithm',
    excerpt: 'Our reach on social fell to 2% of followers. Here is why this newsletter is now home.',
    visibility: 'public' as const,
    days: 2,
    markdown:
      'Two years ago a post reached a third of our followers. Last month it reached two in a hundred.\n\n<!--more-->\n\nSo we built a home we own: this newsletter, a members area and a place to talk. No feed decides who hears from us.',
  },
  {
    slug: 'the-washed-ethiopian-that-changed-our-menu',
    title: 'The washed Ethiopian that changed our menu',
    excerpt: 'Jasmine, bergamot and a very patient farmer in Guji.',
    visibility: 'public' as const,
    days: 6,
    markdown:
      'We cupped forty lots this spring. One of them made the whole roastery go quiet.\n\n<!--more-->\n\nHere is how it tastes, and how to brew it at home.',
  },
  {
    slug: 'dialing-in-espresso-at-home',
    title: 'Dialing in espresso at home, the honest way',
    excerpt: 'A scale, a timer and three shots: the method our baristas teach.',
    visibility: 'members' as const,
    days: 11,
    markdown:
      'Every bag we sell comes with the same question: how do I make it taste like the café?\n\n<!--more-->\n\nStart with 18 g in, 36 g out, 28 seconds. Then change one thing at a time.',
  },
  {
    slug: 'roast-profiles-we-never-published',
    title: 'The roast profiles we never published',
    excerpt: 'For supporters: the curves behind our three house roasts.',
    visibility: 'paid' as const,
    days: 17,
    markdown:
      'Supporters asked for the data, so here it is.\n\n<!--more-->\n\nCharge at 205 °C, first crack at 8:40, drop at 10:15 for the house filter.',
  },
  {
    slug: 'a-year-of-direct-trade',
    title: 'A year of direct trade, in numbers',
    excerpt: 'What we paid, to whom, and what it changed.',
    visibility: 'public' as const,
    days: 30,
    markdown:
      'We promised to publish every price we paid. This is the first report.\n\n<!--more-->\n\nAverage farm-gate price: 2.4 times the commodity price.',
  },
];

/** Platform mix of a brand grown mostly on Instagram and TikTok. */
const PLATFORM_WEIGHTS: Array<[string, number]> = [
  ['instagram', 34],
  ['tiktok', 20],
  ['direct', 10],
  ['x', 7],
  ['youtube', 6],
  ['threads', 5],
  ['bluesky', 4],
  ['referral', 4],
  ['linkedin', 3],
  ['facebook', 3],
  ['reddit', 2],
  ['mastodon', 1],
  ['other', 1],
];

export interface SeedResult {
  membersAdded: number;
}

export async function seedDemo(db: Kysely<Database>, options: { members: number }): Promise<SeedResult> {
  if (!Number.isInteger(options.members) || options.members < 0) throw new RangeError('members must be a whole number ≥ 0');
  // One transaction: an interrupted seed leaves nothing behind, so the next start seeds again.
  const result = await db.transaction().execute((trx) => seedInTransaction(trx, options.members));
  await sql`analyze members`.execute(db);
  // The first rollup now, not in ten minutes: Stats must agree with the dashboard from the first visit.
  await refreshStats(db);
  return result;
}

async function seedInTransaction(db: Kysely<Database>, members: number): Promise<SeedResult> {
  await saveSiteSettings(db, {
    title: 'Field Notes Coffee',
    description: 'Letters from a small roastery: the coffees we find, the people who grow them, and how to brew them well.',
    accentColor: '#9a3412',
  });
  await db
    .insertInto('newsletters')
    .values([
      {
        slug: 'weekly-brew',
        name: 'The Weekly Brew',
        description: 'Every Friday: new coffees, brewing notes and roastery news.',
        is_default: true,
        sort_order: 0,
      },
      {
        slug: 'roastery-dispatch',
        name: 'Roastery Dispatch',
        description: 'Monthly, longer: sourcing trips and the business of coffee.',
        sort_order: 1,
      },
    ])
    .onConflict((oc) => oc.column('slug').doNothing())
    .execute();
  await db
    .insertInto('tiers')
    .values({
      slug: 'supporter',
      name: 'Supporter',
      description: 'Every post, the roast profiles, and a say in what we buy next.',
      paid: true,
      monthly_amount: 600,
      yearly_amount: 6000,
      currency: 'usd',
      trial_days: 7,
    })
    .onConflict((oc) => oc.column('slug').doNothing())
    .execute();
  for (const p of POSTS) {
    await db
      .insertInto('posts')
      .values({
        slug: p.slug,
        title: p.title,
        excerpt: p.excerpt,
        markdown: p.markdown,
        visibility: p.visibility,
        status: 'published',
        published_at: dbNow({ days: -p.days }),
      })
      .onConflict((oc) => oc.column('slug').doNothing())
      .execute();
  }
  const membersAdded = await seedMembers(db, members);
  await seedStory(db);
  return { membersAdded };
}

/**
 * Members are generated in Postgres with generate_series, in chunks of 100,000 so a seed of
 * millions keeps each statement's memory bounded: 1,000,000 members in 46 s here (bench/RESULTS.md).
 */
async function seedMembers(db: Kysely<Database>, count: number): Promise<number> {
  const platforms = PLATFORM_WEIGHTS.flatMap(([name, weight]) => Array<string>(weight).fill(name));
  const platformArray = sql`array[${sql.join(platforms.map((p) => sql.lit(p)))}]::text[]`;
  const start = await db
    .selectFrom('members')
    .select(sql<string>`coalesce(max(id), 0)`.as('n'))
    .executeTakeFirstOrThrow();
  const offset = Number(start.n);
  const chunk = 100_000;
  let added = 0;
  for (let from = 1; from <= count; from += chunk) {
    const to = Math.min(count, from + chunk - 1);
    const result = await sql<{ n: string }>`
      with generated as (
        select g + ${offset} as n,
               (${platformArray})[1 + floor(random() * ${platforms.length})::int] as platform,
               now() - make_interval(secs => floor(random() * 180 * 86400)::int) as created,
               random() as r
        from generate_series(${from}::int, ${to}::int) g
      ), inserted as (
        insert into members (email, name, status, tier_id, source_platform, utm_source, utm_medium, utm_campaign,
                             referral_code, created_at, updated_at, confirmed_at, unsubscribed_at)
        select 'reader' || n || '@example.com',
               (array['Ana','Ben','Chloé','Dev','Emeka','Fatima','Gus','Hana','Ivan','Jia','Kofi','Lena'])[1 + n % 12]
                 || ' ' || (array['Silva','Okafor','Nguyen','Müller','Rossi','Kim','Haddad','Larsen','Tanaka'])[1 + n % 9],
               case when r < 0.06 then 'pending' when r < 0.14 then 'unsubscribed' when r < 0.155 then 'bounced' else 'active' end,
               case when r > 0.93 then (select id from tiers where slug = 'supporter') else (select id from tiers where slug = 'free') end,
               platform,
               case when platform in ('direct', 'referral') then null else platform end,
               case when platform in ('direct', 'referral') then null else 'social' end,
               case when platform in ('direct', 'referral') then null when r < 0.5 then 'bio-link' else 'spring-launch' end,
               substr(md5(n::text || random()::text), 1, 16),
               created, created,
               case when r >= 0.06 then created + interval '5 minutes' end,
               case when r >= 0.06 and r < 0.14 then created + make_interval(days => 1 + floor(r * 200)::int) end
        from generated
        on conflict do nothing
        returning id, (id % 5 < 2) as both
      ), subscribed as (
        insert into member_newsletters (member_id, newsletter_id)
        select i.id, nl.id
        from inserted i join newsletters nl on nl.slug = 'weekly-brew' or (nl.slug = 'roastery-dispatch' and i.both)
        on conflict do nothing
      )
      select count(*) as n from inserted
    `.execute(db);
    added += Number(result.rows[0]?.n ?? 0);
  }
  return added;
}

/** True when the database holds no content yet: the embedded default seeds it on first start. */
export async function isEmptySite(db: Kysely<Database>): Promise<boolean> {
  const [member, newsletter] = await Promise.all([
    db.selectFrom('members').select('id').limit(1).executeTakeFirst(),
    db.selectFrom('newsletters').select('id').limit(1).executeTakeFirst(),
  ]);
  return member === undefined && newsletter === undefined;
}
