import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { saveAudienceSettings } from '../landing/settings.ts';

/**
 * What the demo's members have done, so that every admin page of a fresh demo shows what it is
 * for, and the figures agree with each other: supporters have subscriptions (MRR), past posts
 * were sent and read (engagement), the "referral" platform's members were referred by someone
 * (referrals), the link-in-bio page has links, one question is answered and one waits.
 *
 * Runs once per site (the first seed with members); a second seed only adds members. Everything
 * is set-based SQL over the members already generated, so it costs a few statements at any size.
 */
export async function seedStory(db: Kysely<Database>): Promise<void> {
  const done = await db.selectFrom('settings').select('key').where('key', '=', 'demo_story').executeTakeFirst();
  if (done) return;
  const anyMember = await db.selectFrom('members').select('id').limit(1).executeTakeFirst();
  if (!anyMember) return;
  await db
    .insertInto('settings')
    .values({ key: 'demo_story', value: JSON.stringify({ at: new Date().toISOString() }) })
    .execute();

  await seedSubscriptions(db);
  await seedPastSends(db);
  await seedReferrals(db);
  await seedConversation(db);
  await saveAudienceSettings(db, {
    links: [
      { label: 'Shop our coffees', url: 'https://example.com/shop' },
      { label: 'Read the latest letters', url: '/posts' },
      { label: 'Our direct-trade report', url: '/posts/a-year-of-direct-trade' },
    ],
  });
}

/**
 * Every active member on the paid tier pays for it: a Stripe-shaped subscription (a monthly
 * price, so MRR counts the tier's monthly amount) and the subscription_started fact the stats
 * read for "paid" and MRR gained, a day after the member confirmed.
 */
async function seedSubscriptions(db: Kysely<Database>): Promise<void> {
  await sql`
    with paid as (
      select m.id, t.id as tier_id, t.monthly_amount, m.confirmed_at
      from members m join tiers t on t.id = m.tier_id
      where t.paid and m.status = 'active' and m.confirmed_at is not null
    ), subs as (
      insert into subscriptions (stripe_subscription_id, member_id, tier_id, status, current_period_end, mrr_cents, created_at, updated_at)
      select 'sub_demo_' || id, id, tier_id, 'active', now() + interval '20 days', coalesce(monthly_amount, 0),
             confirmed_at + interval '1 day', confirmed_at + interval '1 day'
      from paid
      on conflict do nothing
      returning stripe_subscription_id, member_id, mrr_cents, created_at
    )
    insert into events (member_id, type, occurred_at, data)
    select member_id, 'subscription_started', least(created_at, now()),
           jsonb_build_object('subscription', stripe_subscription_id, 'mrr_cents', mrr_cents)
    from subs
  `.execute(db);
  // The money overview reads MRR movements (what webhooks record): one "new" per subscription.
  await sql`
    insert into mrr_movements (member_id, stripe_subscription_id, kind, cause, from_cents, to_cents, occurred_at)
    select member_id, stripe_subscription_id, 'new', 'created', 0, mrr_cents, least(created_at, now())
    from subscriptions where stripe_subscription_id like 'sub_demo_%'
  `.execute(db);
  await sql`update members m set tier_source = 'stripe' from subscriptions s where s.member_id = m.id and s.stripe_subscription_id like 'sub_demo_%'`.execute(
    db,
  );
}

/**
 * The three newest posts were emailed to The Weekly Brew an hour after publishing: one delivery
 * per member subscribed and active then, and what readers did with them — a human open for about
 * half (plus privacy-proxy opens, flagged machine), reads for a quarter, clicks for a sixth — in
 * the days after the send.
 */
async function seedPastSends(db: Kysely<Database>): Promise<void> {
  const posts = await db
    .selectFrom('posts')
    .select(['id', 'published_at'])
    .where('status', '=', 'published')
    .where('published_at', 'is not', null)
    .orderBy('published_at', 'desc')
    .limit(3)
    .execute();
  const weekly = await db.selectFrom('newsletters').select(['id', 'slug', 'name']).where('slug', '=', 'weekly-brew').executeTakeFirst();
  if (!weekly) return;
  // The segment as a send stores it (sending/segments.ts: names resolved to ids).
  const segment = JSON.stringify({ newsletters: [weekly], tiers: [], labels: [], platforms: [], engagement: 'any' });
  for (const post of posts) {
    const send = await db
      .insertInto('sends')
      .values({
        post_id: post.id,
        status: 'sent',
        segment,
        scheduled_at: sql`${post.published_at}::timestamptz + interval '1 hour'`,
        prepared_at: sql`${post.published_at}::timestamptz + interval '1 hour'`,
        finished_at: sql`${post.published_at}::timestamptz + interval '65 minutes'`,
        created_at: sql`${post.published_at}::timestamptz + interval '50 minutes'`,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const at = sql`${post.published_at}::timestamptz + interval '62 minutes'`;
    await sql`
      insert into deliveries (send_id, member_id, email, name, referral_code, variant, status, posted_at, delivered_at)
      select ${send.id}, m.id, m.email, m.name, m.referral_code, 'f', 'posted', ${at}, ${at}
      from members m
      join member_newsletters mn on mn.member_id = m.id
      join newsletters n on n.id = mn.newsletter_id and n.slug = 'weekly-brew'
      where m.confirmed_at < ${at} and (m.status = 'active' or m.unsubscribed_at > ${at})
    `.execute(db);
    // Pseudo-random but repeatable per member and send: hashtext spreads ids over 0..99.
    await sql`
      insert into engagement_events (occurred_at, kind, member_id, send_id, post_id, machine, agent)
      select least(now(), d.posted_at + make_interval(mins => 5 + abs(hashtext(d.member_id || k.kind)) % 2000)), k.kind, d.member_id, d.send_id,
             ${post.id}, k.machine, case when k.machine then 'proxy' else '' end
      from deliveries d
      cross join (values ('open', false, 50), ('open', true, 30), ('read', false, 25), ('click', false, 16)) as k(kind, machine, share)
      where d.send_id = ${send.id}
        and abs(hashtext(d.member_id || ':' || k.kind || k.machine::text)) % 100 < k.share
    `.execute(db);
    await sql`
      update sends s set recipients = c.n, delivered = c.n, batches = greatest(1, ceil(c.n / 100.0)::int)
      from (select count(*)::int as n from deliveries where send_id = ${send.id}) c
      where s.id = ${send.id}
    `.execute(db);
  }
}

/**
 * Members who came from the "referral" platform were referred by a member who joined before them:
 * a counted referral each (confirmed friends), with the referrer's code as their source's ref.
 */
async function seedReferrals(db: Kysely<Database>): Promise<void> {
  await sql`
    with bounds as (select min(id) as lo, max(id) as hi from members),
    picked as (
      select f.id, f.created_at, f.confirmed_at, b.lo + abs(hashtext(f.id::text)) % (b.hi - b.lo + 1) as pick
      from members f, bounds b
      where f.source_platform = 'referral'
    ), friends as (
      -- A repeatable pseudo-random referrer: the first member who could have referred them at or
      -- after an id picked by hash (the primary key, walked from there), else the first from the
      -- start. Ordering every earlier member by a hash per friend read all members per friend: at
      -- a million members (40,000 friends) the seed never finished.
      select f.id, f.created_at, f.confirmed_at,
             coalesce(
               (select r.id from members r
                where r.id >= f.pick and r.created_at < f.created_at and r.status = 'active' and r.source_platform <> 'referral'
                order by r.id limit 1),
               (select r.id from members r
                where r.created_at < f.created_at and r.status = 'active' and r.source_platform <> 'referral'
                order by r.id limit 1)) as referrer_id
      from picked f
    ), made as (
      insert into referrals (referred_id, referrer_id, status, created_at, confirmed_at, counted_at)
      select id, referrer_id, case when confirmed_at is null then 'pending' else 'counted' end, created_at, confirmed_at, confirmed_at
      from friends where referrer_id is not null
      on conflict do nothing
      returning referred_id, referrer_id
    )
    update members m set ref = r.referral_code
    from made join members r on r.id = made.referrer_id
    where m.id = made.referred_id
  `.execute(db);
  // A "referral" member who joined before anyone could have referred them (the seed's dates are
  // random) came directly: the referrals page and the sources stats must agree.
  await sql`
    update members m set source_platform = 'direct'
    where m.source_platform = 'referral' and not exists (select 1 from referrals r where r.referred_id = m.id)
  `.execute(db);
}

/** A supporter's question answered by the roastery (a reply that marks it answered), and one still waiting. */
async function seedConversation(db: Kysely<Database>): Promise<void> {
  const post = await db.selectFrom('posts').select('id').where('slug', '=', 'dialing-in-espresso-at-home').executeTakeFirst();
  const askers = await db.selectFrom('members').select(['id']).where('status', '=', 'active').orderBy('id').limit(3).execute();
  if (!post || askers.length < 3) return;
  const [first, second, roaster] = askers as [{ id: string }, { id: string }, { id: string }];
  const answered = await db
    .insertInto('comments')
    .values({
      post_id: post.id,
      member_id: first.id,
      body: 'Does 18 g in, 36 g out still hold for a lighter roast, or should I grind finer?',
      question: true,
      answered_at: dbAgo(2),
      created_at: dbAgo(3),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('comments')
    .values({
      post_id: post.id,
      parent_id: answered.id,
      member_id: roaster.id,
      body: 'Keep the ratio and grind a step finer; a lighter roast needs a little more time, about 30 seconds.',
      created_at: dbAgo(2),
    })
    .execute();
  await db
    .insertInto('comments')
    .values({
      post_id: post.id,
      member_id: second.id,
      body: 'Which of your coffees would you pick for a moka pot?',
      question: true,
      created_at: dbAgo(1),
    })
    .execute();
}

function dbAgo(days: number) {
  return sql<Date>`now() - make_interval(days => ${days})`;
}
