/**
 * The stats pages at size: generates members, sends with their deliveries, and engagement
 * events, runs the rollup (timed: first run over everything, then an incremental run), then
 * times the four stats calls (overview, sources, cohorts, a send report) as the server makes
 * them. Usage: npm run bench:stats -- [members] [events] [sends]   (default 1,000,000 20,000,000 8)
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it, dropped after) or
 * an embedded PostgreSQL under the system temp folder. BENCH_STATS_KEEP=<database name> keeps the
 * generated database and reuses it on the next run (the stats tables emptied first, so the first
 * rollup is a first run again): generate once, time the rollup several times.
 */
import { withScratchDatabase } from './scratch.ts';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { statsCohorts, statsOverview, statsSend, statsSources } from '../src/domain/stats/read.ts';
import { refreshStats } from '../src/domain/stats/rollup.ts';

const members = Number(process.argv[2] ?? 1_000_000);
const events = Number(process.argv[3] ?? 20_000_000);
const sends = Number(process.argv[4] ?? 8);
const timed = async (label: string, fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  const ms = Math.round(performance.now() - t0);
  console.log(JSON.stringify({ step: label, ms }));
  return ms;
};

async function generate(db: Kysely<Database>) {
  await timed('generate members', async () => {
    await sql`insert into tiers (slug, name, paid, monthly_amount, yearly_amount, currency, stripe_monthly_price_id, stripe_yearly_price_id)
      values ('gold', 'Gold', true, 500, 4800, 'usd', 'price_m', 'price_y')`.execute(db);
    // Two years of signups. 85 % active, 9 % unsubscribed, 3 % pending, 3 % bounced; 5 % of the active on the paid tier.
    await sql`
      insert into members (email, status, tier_id, referral_code, source_platform, utm_campaign, created_at, updated_at, confirmed_at, unsubscribed_at)
      select 'm' || g || '@bench.example', st, case when st = 'active' and g % 20 = 0 then 2 else 1 end, md5(g::text),
        (array['instagram','tiktok','x','threads','bluesky','mastodon','linkedin','facebook','youtube','reddit','referral','import','direct','other'])[1 + g % 14],
        case when g % 3 = 0 then 'campaign-' || (g % 25) end,
        created, created + interval '30 days', case when st <> 'pending' then created + interval '1 hour' end,
        case when st = 'unsubscribed' then created + (g % 300) * interval '1 day' end
      from (
        select g, now() - (g::float8 / ${members}) * interval '730 days' as created,
          case when g % 100 < 85 then 'active' when g % 100 < 94 then 'unsubscribed' when g % 100 < 97 then 'pending' else 'bounced' end as st
        from generate_series(1, ${members}::int) g
      ) x
    `.execute(db);
    await sql`insert into subscriptions (stripe_subscription_id, member_id, tier_id, status, price_id)
      select 'sub_' || id, id, 2, 'active', case when id % 3 = 0 then 'price_y' else 'price_m' end from members where tier_id = 2`.execute(
      db,
    );
    await sql`insert into events (member_id, type, occurred_at, data)
      select id, 'subscription_started', created_at + interval '3 days', jsonb_build_object('subscription', 'sub_' || id, 'mrr_cents', case when id % 3 = 0 then 400 else 500 end)
      from members where tier_id = 2`.execute(db);
  });
  const post = await sql<{
    id: string;
  }>`insert into posts (slug, title, markdown, status, published_at) values ('bench', 'Bench', 'x', 'published', now()) returning id`.execute(
    db,
  );
  const postId = post.rows[0]!.id;
  await timed('generate sends and deliveries', async () => {
    // Weekly sends, the last one this week; each to every active member who had joined by then.
    for (let i = sends - 1; i >= 0; i--) {
      const s = await sql<{
        id: string;
      }>`insert into sends (post_id, status, segment, prepared_at, finished_at) values (${postId}, 'sent', '{}', now() - ${i * 7 + 1} * interval '1 day', now() - ${i * 7 + 1} * interval '1 day' + interval '10 minutes') returning id`.execute(
        db,
      );
      const id = s.rows[0]!.id;
      await sql`insert into deliveries (send_id, member_id, email, variant, status, posted_at, delivered_at)
        select ${id}, id, email, 'a', 'posted', now() - ${i * 7 + 1} * interval '1 day' + interval '5 minutes', now() - ${i * 7 + 1} * interval '1 day' + interval '6 minutes'
        from members where status = 'active' and created_at < now() - ${i * 7 + 1} * interval '1 day'`.execute(db);
      await sql`update sends set recipients = (select count(*) from deliveries where send_id = ${id}), delivered = (select count(*) from deliveries where send_id = ${id}) where id = ${id}`.execute(
        db,
      );
      await sql`insert into send_links (send_id, link, url) select ${id}, l, 'https://example.com/' || l from generate_series(1, 6) l`.execute(
        db,
      );
    }
  });
  const sendIds = (await sql<{ id: string; at: Date }>`select id, prepared_at as at from sends order by id`.execute(db)).rows;
  await timed('generate engagement events', async () => {
    // Monthly partitions for the year behind us, as a site that has run for a year would have.
    for (let m = 12; m >= 1; m--) {
      await sql`select 1`.execute(db);
      const from = await sql<{
        f: string;
        t: string;
        n: string;
      }>`select to_char(date_trunc('month', now()) - ${m} * interval '1 month', 'YYYY-MM-DD') as f, to_char(date_trunc('month', now()) - ${m - 1} * interval '1 month', 'YYYY-MM-DD') as t, 'engagement_events_' || to_char(date_trunc('month', now()) - ${m} * interval '1 month', 'YYYY_MM') as n`.execute(
        db,
      );
      const r = from.rows[0]!;
      await sql
        .raw(`create table if not exists ${r.n} partition of engagement_events for values from ('${r.f}') to ('${r.t}')`)
        .execute(db);
    }
    // Half are opens and clicks of the sends (a quarter of them machine), the rest reads and
    // anonymous views of posts over the last year. Inserted in slices of 1M rows.
    const slice = 1_000_000;
    const ids = `array[${sendIds.map((s) => s.id).join(',')}]::bigint[]`;
    for (let done = 0; done < events; done += slice) {
      const n = Math.min(slice, events - done);
      await sql`
        insert into engagement_events (occurred_at, kind, member_id, send_id, post_id, link, machine)
        select
          case when k < 2 then s.prepared_at + (r2 * 72) * interval '1 hour' else now() - r2 * interval '365 days' end,
          (array['open','click','read','view'])[k + 1],
          case when k = 3 then null else 1 + (r1 * ${members})::bigint % ${members} end,
          case when k < 2 then s.id end,
          case when k >= 2 then ${postId}::bigint end,
          case when k = 1 then 1 + (g % 6) end,
          k < 2 and g % 4 = 0
        from (
          select g, random() as r1, random() as r2, (g % 4) as k, (${sql.raw(ids)})[1 + g % ${sendIds.length}] as sid
          from generate_series(${done + 1}::bigint, ${done + n}::bigint) g
        ) x join sends s on s.id = x.sid
        where (k < 2 and s.prepared_at + (r2 * 72) * interval '1 hour' < now()) or k >= 2
      `.execute(db);
    }
    await sql`insert into events (member_id, type, occurred_at) select 1 + (random() * ${members - 1})::bigint, (array['comment','reaction'])[1 + g % 2], now() - random() * interval '365 days' from generate_series(1, ${Math.round(events / 100)}::int) g`.execute(
      db,
    );
    await sql`analyze`.execute(db);
  });
}

await withScratchDatabase('stats', { poolSize: 4, keep: process.env.BENCH_STATS_KEEP || undefined }, async (handle) => {
  const db = handle.db;
  const filled = handle.reused && (await sql<{ n: boolean }>`select exists (select 1 from sends) as n`.execute(db)).rows[0]!.n;
  if (filled) {
    for (const table of [
      'stats_member_days',
      'stats_members',
      'stats_days',
      'stats_post_days',
      'stats_sources',
      'stats_cohorts',
      'stats_cohort_weeks',
      'stats_engaged_pending',
      'stats_send_links',
      'stats_send_hours',
      'stats_sends',
      'stats_state',
      'send_live_counts',
    ]) {
      await sql`delete from ${sql.table(table)}`.execute(db);
    }
    await sql`delete from settings where key = 'stats_zone'`.execute(db);
    await sql`vacuum analyze`.execute(db);
  } else await generate(db);
  const count = await sql<{ n: string }>`select count(*) as n from engagement_events`.execute(db);
  const sendIds = (await sql<{ id: string; at: Date }>`select id, prepared_at as at from sends order by id`.execute(db)).rows;
  console.log(JSON.stringify({ members, events: Number(count.rows[0]!.n), sends: sendIds.length, reused: filled }));
  const lastSend = sendIds.at(-1)!.id;
  // The last send is a day old, so its report is live (domain/stats/live.ts): its opens and clicks
  // come from send_live_counts, which the tracking writer keeps as events arrive. The events here
  // were generated in bulk, so the counters are filled once from them (what the writer would have
  // reached), before the rollups, and the report and the rollup read them as they do in production.
  await sql`
    insert into send_live_counts (send_id, link, human_opens, unique_human_opens, machine_opens, human_clicks, unique_human_clicks, machine_clicks)
    select ${lastSend}, coalesce(link, -1),
      count(*) filter (where kind = 'open' and not machine), count(distinct member_id) filter (where kind = 'open' and not machine),
      count(*) filter (where kind = 'open' and machine), count(*) filter (where kind = 'click' and not machine),
      count(distinct member_id) filter (where kind = 'click' and not machine), count(*) filter (where kind = 'click' and machine)
    from engagement_events where send_id = ${lastSend} and kind in ('open', 'click')
    group by grouping sets ((), (link)) having grouping(link) = 1 or link is not null
  `.execute(db);
  // Each run's parts (chunks summed) are printed after it: where the time goes.
  const run = (label: string) =>
    timed(label, async () => {
      const result = await refreshStats(db);
      console.log(JSON.stringify({ parts: label, ...result.steps }));
    });
  const first = await run('rollup, first run (everything)');
  const again = await run('rollup, next run (incremental)');
  await sql`analyze`.execute(db);
  const calls: Array<[string, () => Promise<unknown>]> = [
    ['overview', () => statsOverview(db, { days: 365 })],
    ['sources', () => statsSources(db)],
    ['cohorts', () => statsCohorts(db, { platform: '' })],
    ['cohorts?platform=tiktok', () => statsCohorts(db, { platform: 'tiktok' })],
    ['send report (live, read from its counters)', () => statsSend(db, lastSend)],
  ];
  const results: Record<string, { median: number; max: number }> = {};
  for (const [label, fn] of calls) {
    await fn();
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await fn();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    results[label] = { median: Number(times[10]!.toFixed(1)), max: Number(times.at(-1)!.toFixed(1)) };
  }
  console.log(
    JSON.stringify({
      figure: 'stats calls (ms, 20 runs each)',
      members,
      events: Number(count.rows[0]!.n),
      rollupFirstMs: first,
      rollupNextMs: again,
      results,
    }),
  );
});
