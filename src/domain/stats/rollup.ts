import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { log } from '../../lib/log.ts';
import { getSiteSettings } from '../site/settings.ts';
import { ATTRIBUTION_DAYS, COHORT_WEEKS, COLD_DAYS, ENGAGED_DAYS, SEND_HOURS } from './definitions.ts';

/**
 * The rollup job: reads the raw facts (engagement_events, events, members, deliveries,
 * subscriptions) and rewrites the stats_* tables the pages read. Idempotent (days are recounted
 * whole, rebuilt tables are replaced, per-member rows are upserted with greatest()), and one run
 * at a time (a transaction-level advisory lock; a run that finds it taken does nothing).
 *
 * Incremental parts (member and post days, last engagement) read only from the day before the
 * last run's start, through the time-ordered indexes and the month partitions of
 * engagement_events. Rebuilt parts (sources, cohorts, today's levels) read members once each.
 */
export const STATS_LOCK = 7_170_011;

/** A fact committed this long after its occurred_at is still counted by the next run. */
const LATE_MARGIN = '10 minutes';

export interface RefreshResult {
  skipped: boolean;
  from?: Date;
  sends?: number;
  ms?: number;
}

/** Where the zone the stats rows were counted in is kept (a JSON string in `settings`). */
const STATS_ZONE_KEY = 'stats_zone';

/**
 * The site's zone as PostgreSQL will use it. Intl and PostgreSQL each carry a copy of the IANA
 * database; a zone only Intl knows (a name newer than the server's) counts in UTC rather than
 * failing the run.
 */
async function statsZone(trx: Trx): Promise<string> {
  const { timeZone } = await getSiteSettings(trx);
  if (timeZone === 'UTC') return 'UTC';
  const known = await sql<{ ok: boolean }>`select exists (select 1 from pg_timezone_names where name = ${timeZone}) as ok`.execute(trx);
  if (known.rows[0]!.ok) return timeZone;
  log.warn('the site time zone is unknown to PostgreSQL; stats days start in UTC', { zone: timeZone });
  return 'UTC';
}

/** The zone whose days the stats rows are keyed by (UTC until a run counts in another). */
export async function countedZone(db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', STATS_ZONE_KEY).executeTakeFirst();
  return typeof row?.value === 'string' ? row.value : 'UTC';
}

/** Where an interrupted first (or re-zoned) run got to: the end of its last committed chunk. */
const progressKey = (zone: string) => `engagement_progress:${zone}`;

/**
 * One run. The day-keyed parts (member days, post days, the days' flows) are recounted in
 * chunks of whole days, each chunk its own transaction: a first run over 20 M events never holds
 * one transaction (or a lock on the stats tables) for minutes, and a run that stops part way
 * (deploy, crash) goes on from its last committed chunk (stats_state `engagement_progress:<zone>`)
 * instead of starting again. A chunk is at most a calendar month: engagement_events has no index
 * on occurred_at alone, and its month partitions make each chunk one partition's scan (a day a
 * chunk would scan the same partition thirty times). Then one short transaction recounts the
 * sends, rebuilds sources and cohorts, snapshots today's levels and marks the run done. One run
 * at a time: a session advisory lock held by the run's connection across its transactions.
 */
export async function refreshStats(db: Kysely<Database>, options: { now?: Date; zone?: string } = {}): Promise<RefreshResult> {
  const started = performance.now();
  return db.connection().execute(async (conn) => {
    const locked = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${STATS_LOCK}) as ok`.execute(conn);
    if (!locked.rows[0]!.ok) return { skipped: true };
    try {
      const plan = await conn.transaction().execute(async (trx) => planRun(trx, options));
      let from = plan.resumeFrom ?? plan.from;
      while (from <= plan.now) {
        const to = await nextChunkEnd(conn, from, plan.now, plan.zone);
        await conn.transaction().execute(async (trx) => {
          const end = to < plan.now ? to : plan.now;
          await rollMemberDays(trx, from, to, end, plan.zone);
          await rollPostDays(trx, from, to, end, plan.zone);
          await rollDayFlows(trx, from, to, end, plan.zone);
          await trx
            .insertInto('stats_state')
            .values({ name: progressKey(plan.zone), value: to })
            .onConflict((oc) => oc.column('name').doUpdateSet({ value: to }))
            .execute();
        });
        from = to;
      }
      const sends = await conn.transaction().execute(async (trx) => {
        const { now, zone } = plan;
        const n = await rollSends(trx, plan.from, now);
        await snapshotLevels(trx, now, zone);
        await rebuildSources(trx, now);
        await rebuildCohorts(trx, now, zone);
        if (plan.zoneChanged) {
          await trx
            .insertInto('settings')
            .values({ key: STATS_ZONE_KEY, value: JSON.stringify(zone) })
            .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(zone), updated_at: new Date() }))
            .execute();
        }
        await trx.deleteFrom('stats_state').where('name', 'like', 'engagement_progress:%').execute();
        await trx
          .insertInto('stats_state')
          .values({ name: 'engagement', value: now })
          .onConflict((oc) => oc.column('name').doUpdateSet({ value: now }))
          .execute();
        return n;
      });
      return { skipped: false, from: plan.from, sends, ms: Math.round(performance.now() - started) };
    } finally {
      await sql`select pg_advisory_unlock(${STATS_LOCK})`.execute(conn);
    }
  });
}

interface RunPlan {
  now: Date;
  zone: string;
  zoneChanged: boolean;
  /** Where this run's recount starts (the day before the last run, less a margin; or the first fact). */
  from: Date;
  /** Where an interrupted run of the same zone stopped, when that is later than `from`. */
  resumeFrom: Date | undefined;
}

async function planRun(trx: Trx, options: { now?: Date; zone?: string }): Promise<RunPlan> {
  const now = options.now ?? (await sql<{ now: Date }>`select now() as now`.execute(trx)).rows[0]!.now;
  const state = await trx.selectFrom('stats_state').select('value').where('name', '=', 'engagement').executeTakeFirst();
  // Days and weeks start in the site's time zone. When it changes, every day is recounted in
  // the new one (the old rows are keyed by the old zone's days).
  const zone = options.zone ?? (await statsZone(trx));
  const zoneChanged = (await countedZone(trx)) !== zone;
  const progress = await trx.selectFrom('stats_state').select('value').where('name', '=', progressKey(zone)).executeTakeFirst();
  if (zoneChanged && state && !progress) {
    await sql`delete from stats_member_days`.execute(trx);
    await sql`delete from stats_post_days`.execute(trx);
    await sql`delete from stats_days`.execute(trx);
  }
  const dayBefore = async (at: Date) =>
    (await sql<{ d: Date }>`select date_trunc('day', ${at}::timestamptz - interval '${sql.raw(LATE_MARGIN)}', ${zone}) as d`.execute(trx))
      .rows[0]!.d;
  // Recount from the start of the day of the last run (less a margin for late commits); the
  // first run (or the first in a new zone) reads everything, from the day of the first fact.
  const from = state && !zoneChanged ? await dayBefore(state.value) : await firstFactDay(trx, now, zone);
  const resumeFrom = progress && progress.value > from ? await dayBefore(progress.value) : undefined;
  return { now, zone, zoneChanged, from, resumeFrom: resumeFrom && resumeFrom > from ? resumeFrom : undefined };
}

/** The start of the day of the earliest fact the day rows count (members' signups included), or today. */
async function firstFactDay(trx: Trx, now: Date, zone: string): Promise<Date> {
  const row = await sql<{ d: Date }>`
    select date_trunc('day', least(
      (select min(occurred_at) from engagement_events),
      (select min(occurred_at) from events where type in ('comment', 'reaction', 'subscription_started', 'subscription_ended')),
      (select min(created_at) from members),
      ${now}::timestamptz), ${zone}) as d`.execute(trx);
  return row.rows[0]!.d;
}

/** The end of the chunk that starts at `from`: the next month's first day in the zone, at most the day after `now`. */
async function nextChunkEnd(conn: Kysely<Database>, from: Date, now: Date, zone: string): Promise<Date> {
  const row = await sql<{ to: Date }>`
    select least(
      date_trunc('month', ${from}::timestamptz + interval '1 day', ${zone}) + interval '1 month',
      date_trunc('day', ${now}::timestamptz, ${zone}) + interval '1 day') as to`.execute(conn);
  return row.rows[0]!.to;
}

type Trx = Transaction<Database>;

/** Human clicks and reads, comments and reactions, per member per day; and each member's last engagement. */
async function rollMemberDays(trx: Trx, from: Date, to: Date, now: Date, zone: string) {
  await sql`delete from stats_member_days where day >= (${from}::timestamptz at time zone ${zone})::date and day < (${to}::timestamptz at time zone ${zone})::date`.execute(
    trx,
  );
  await sql`
    insert into stats_member_days (member_id, day, clicks, reads, comments, reactions)
    select member_id, day, sum(clicks), sum(reads), sum(comments), sum(reactions)
    from (
      select member_id, (occurred_at at time zone ${zone})::date as day,
        -- A poll answer is a click on one of the email's (or page's) answers.
        count(*) filter (where kind in ('click', 'poll')) as clicks, count(*) filter (where kind = 'read') as reads, 0 as comments, 0 as reactions
      from engagement_events
      where occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} and member_id is not null and not machine and kind in ('click', 'read', 'poll')
      group by 1, 2
      union all
      select member_id, (occurred_at at time zone ${zone})::date,
        0, 0, count(*) filter (where type = 'comment'), count(*) filter (where type = 'reaction')
      from events
      where type in ('comment', 'reaction') and occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} and member_id is not null and not machine
      group by 1, 2
    ) x
    group by member_id, day
  `.execute(trx);
  await sql`
    insert into stats_members (member_id, last_engaged_at)
    select member_id, max(at) from (
      select member_id, occurred_at as at from engagement_events
      where occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} and member_id is not null and not machine and kind in ('click', 'read', 'poll')
      union all
      select member_id, occurred_at from events
      where type in ('comment', 'reaction') and occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} and member_id is not null and not machine
    ) x group by member_id
    on conflict (member_id) do update set last_engaged_at = greatest(stats_members.last_engaged_at, excluded.last_engaged_at)
  `.execute(trx);
}

/** Member reads and anonymous views per post per day (machine views are left out). */
async function rollPostDays(trx: Trx, from: Date, to: Date, now: Date, zone: string) {
  await sql`delete from stats_post_days where day >= (${from}::timestamptz at time zone ${zone})::date and day < (${to}::timestamptz at time zone ${zone})::date`.execute(
    trx,
  );
  await sql`
    insert into stats_post_days (post_id, day, reads, views)
    select post_id, (occurred_at at time zone ${zone})::date, count(*) filter (where kind = 'read'), count(*) filter (where kind = 'view')
    from engagement_events
    where occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} and post_id is not null and not machine and kind in ('read', 'view')
    group by 1, 2
  `.execute(trx);
}

/**
 * Sends that went out: recounted when never counted, while what they lead to may still change
 * (ATTRIBUTION_DAYS after preparation), or when they had opens or clicks since the last run. A
 * finished send's recipients are folded into stats_members.last_emailed_at once.
 */
async function rollSends(trx: Trx, from: Date, now: Date): Promise<number> {
  const sends = await sql<{ id: string; prepared_at: Date; status: string; rolled: boolean }>`
    select s.id, coalesce(s.prepared_at, s.created_at) as prepared_at, s.status, ss.emailed_rolled_at is not null as rolled
    from sends s left join stats_sends ss on ss.send_id = s.id
    where s.status in ('sending', 'paused', 'sent', 'failed', 'cancelled')
      and (ss.send_id is null or ss.emailed_rolled_at is null
        or s.prepared_at > ${now}::timestamptz - make_interval(days => ${ATTRIBUTION_DAYS + 1})
        -- An old send that someone opened or clicked since: one probe of engagement_events_send_idx.
        or exists (select 1 from engagement_events e where e.send_id = s.id and e.kind in ('open', 'click') and e.occurred_at >= ${from} and e.occurred_at <= ${now}))
  `.execute(trx);
  for (const s of sends.rows) {
    const id = s.id;
    await sql`
      insert into stats_sends (send_id, human_opens, unique_human_opens, machine_opens, human_clicks, unique_human_clicks, machine_clicks, computed_at)
      select ${id}::bigint,
        count(*) filter (where kind = 'open' and not machine),
        count(distinct member_id) filter (where kind = 'open' and not machine),
        count(*) filter (where kind = 'open' and machine),
        count(*) filter (where kind = 'click' and not machine),
        count(distinct member_id) filter (where kind = 'click' and not machine),
        count(*) filter (where kind = 'click' and machine),
        ${now}::timestamptz
      from engagement_events where send_id = ${id} and kind in ('open', 'click') and occurred_at <= ${now}
      on conflict (send_id) do update set human_opens = excluded.human_opens, unique_human_opens = excluded.unique_human_opens,
        machine_opens = excluded.machine_opens, human_clicks = excluded.human_clicks, unique_human_clicks = excluded.unique_human_clicks,
        machine_clicks = excluded.machine_clicks, computed_at = excluded.computed_at
    `.execute(trx);
    await sql`delete from stats_send_links where send_id = ${id}`.execute(trx);
    await sql`
      insert into stats_send_links (send_id, link, human_clicks, unique_human_clicks, machine_clicks)
      select ${id}::bigint, l.link,
        count(e.link) filter (where not e.machine), count(distinct e.member_id) filter (where not e.machine), count(e.link) filter (where e.machine)
      from send_links l left join engagement_events e on e.send_id = l.send_id and e.link = l.link and e.kind = 'click' and e.occurred_at <= ${now}
      where l.send_id = ${id}
      group by l.link
    `.execute(trx);
    await sql`delete from stats_send_hours where send_id = ${id}`.execute(trx);
    await sql`
      insert into stats_send_hours (send_id, hour, human_opens, machine_opens, human_clicks)
      select ${id}::bigint, h,
        count(*) filter (where kind = 'open' and not machine), count(*) filter (where kind = 'open' and machine), count(*) filter (where kind = 'click' and not machine)
      from (
        select kind, machine, floor(extract(epoch from occurred_at - ${s.prepared_at}::timestamptz) / 3600)::int as h
        from engagement_events where send_id = ${id} and kind in ('open', 'click') and occurred_at <= ${now}
      ) x
      where h between 0 and ${SEND_HOURS - 1}
      group by h
    `.execute(trx);
    // What the send led to: a member's unsubscribe, comment or upgrade within ATTRIBUTION_DAYS of
    // this send's email, when no later send reached them before it (last touch).
    await sql`
      update stats_sends ss set unsubscribes = a.unsubscribes, comments = a.comments, upgrades = a.upgrades
      from (
        select count(*) filter (where e.type = 'unsubscribed') as unsubscribes,
          count(*) filter (where e.type = 'comment') as comments,
          count(*) filter (where e.type = 'subscription_started') as upgrades
        from events e
        join deliveries d on d.send_id = ${id} and d.member_id = e.member_id and d.status = 'posted'
        where e.type in ('unsubscribed', 'comment', 'subscription_started')
          and e.occurred_at >= ${s.prepared_at} and e.occurred_at <= ${now}
          and e.occurred_at >= d.posted_at and e.occurred_at < d.posted_at + make_interval(days => ${ATTRIBUTION_DAYS})
          and not exists (
            select 1 from sends s2 join deliveries d2 on d2.send_id = s2.id and d2.member_id = e.member_id
            where s2.id <> ${id} and s2.prepared_at >= ${s.prepared_at}::timestamptz - interval '1 day' and s2.prepared_at <= e.occurred_at
              and d2.status = 'posted' and d2.posted_at > d.posted_at and d2.posted_at <= e.occurred_at
          )
      ) a
      where ss.send_id = ${id}
    `.execute(trx);
    if (!s.rolled) {
      await sql`
        insert into stats_members (member_id, last_emailed_at)
        select member_id, posted_at from deliveries where send_id = ${id} and status = 'posted' and posted_at is not null
        on conflict (member_id) do update set last_emailed_at = greatest(stats_members.last_emailed_at, excluded.last_emailed_at)
      `.execute(trx);
      // A send still going is folded again next run; a finished one is done.
      if (['sent', 'failed', 'cancelled'].includes(s.status)) {
        await sql`update stats_sends set emailed_rolled_at = ${now} where send_id = ${id}`.execute(trx);
      }
    }
  }
  return sends.rows.length;
}

/** The day rows' flows, recounted for the days of [from, to). */
async function rollDayFlows(trx: Trx, from: Date, to: Date, now: Date, zone: string) {
  const fromDay = sql`(${from}::timestamptz at time zone ${zone})::date`;
  const nowDay = sql`(${now}::timestamptz at time zone ${zone})::date`;
  const lastDay = sql`least(${nowDay}, (${to}::timestamptz at time zone ${zone})::date - 1)`;
  // Flows for every day in [from, to) up to today: joined (confirmed), left (unsubscribed, bounced or
  // complained: unsubscribed_at, or the row's last change for a bounce or complaint), MRR
  // gained (subscription_started's mrr_cents) and lost (the mrr_cents of the start that an
  // ending closes).
  await sql`
    insert into stats_days (day, joined, "left", mrr_new_cents, mrr_lost_cents, computed_at)
    select d::date,
      coalesce(j.n, 0), coalesce(l.n, 0), coalesce(mn.c, 0), coalesce(ml.c, 0), ${now}::timestamptz
    from generate_series(greatest(${fromDay}, (select coalesce(min((created_at at time zone ${zone})::date), ${nowDay}) from members)), ${lastDay}, interval '1 day') d
    left join (
      select (confirmed_at at time zone ${zone})::date as day, count(*) as n from members
      where confirmed_at >= ${from} and confirmed_at < ${to} and confirmed_at <= ${now} group by 1
    ) j on j.day = d::date
    left join (
      select (coalesce(unsubscribed_at, updated_at) at time zone ${zone})::date as day, count(*) as n from members
      where status in ('unsubscribed', 'bounced', 'complained') and confirmed_at is not null
        and coalesce(unsubscribed_at, updated_at) >= ${from} and coalesce(unsubscribed_at, updated_at) < ${to} and coalesce(unsubscribed_at, updated_at) <= ${now} group by 1
    ) l on l.day = d::date
    left join (
      select (occurred_at at time zone ${zone})::date as day, sum(coalesce((data->>'mrr_cents')::bigint, 0)) as c from events
      where type = 'subscription_started' and occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} group by 1
    ) mn on mn.day = d::date
    left join (
      select (e.occurred_at at time zone ${zone})::date as day, sum(coalesce(st.mrr, 0)) as c from events e
      left join lateral (
        select (s.data->>'mrr_cents')::bigint as mrr from events s
        where s.member_id = e.member_id and s.type = 'subscription_started' and s.data->>'subscription' = e.data->>'subscription' and s.occurred_at <= e.occurred_at
        order by s.occurred_at desc limit 1
      ) st on true
      where e.type = 'subscription_ended' and e.occurred_at >= ${from} and e.occurred_at < ${to} and e.occurred_at <= ${now} group by 1
    ) ml on ml.day = d::date
    on conflict (day) do update set joined = excluded.joined, "left" = excluded."left", mrr_new_cents = excluded.mrr_new_cents,
      mrr_lost_cents = excluded.mrr_lost_cents, computed_at = excluded.computed_at
  `.execute(trx);
}

/** Today's levels, on today's day row (written by the last chunk's flows). */
async function snapshotLevels(trx: Trx, now: Date, zone: string) {
  const nowDay = sql`(${now}::timestamptz at time zone ${zone})::date`;
  // Today's levels. Members: active, by whether their tier is paid. MRR: entitling Stripe
  // subscriptions (a yearly price counts a twelfth). Engaged / emailed: see definitions.ts.
  await sql`
    update stats_days set
      members_free = lv.free, members_paid = lv.paid, mrr_cents = lv.mrr, engaged = lv.engaged, emailed = lv.emailed
    from (
      select
        (select count(*) from members m join tiers t on t.id = m.tier_id where m.status = 'active' and not t.paid) as free,
        (select count(*) from members m join tiers t on t.id = m.tier_id where m.status = 'active' and t.paid) as paid,
        (${mrrSql(now)}) as mrr,
        (select count(*) from stats_members where last_emailed_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS}) and last_emailed_at <= ${now}
          and last_engaged_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS})) as engaged,
        (select count(*) from stats_members where last_emailed_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS}) and last_emailed_at <= ${now}) as emailed
    ) lv
    where day = ${nowDay}
  `.execute(trx);
}

/** Monthly recurring revenue of entitling subscriptions, per member (a subquery's select list). */
function memberMrrSql(now: Date) {
  return sql`
    select s.member_id, sum(case when s.price_id is not null and s.price_id = t.stripe_yearly_price_id then round(coalesce(t.yearly_amount, 0) / 12.0) else coalesce(t.monthly_amount, 0) end)::bigint as mrr
    from subscriptions s join tiers t on t.id = s.tier_id
    where s.status in ('active', 'trialing')
      or (s.status = 'past_due' and (s.current_period_end is null or s.current_period_end + interval '7 days' > ${now}))
    group by s.member_id
  `;
}

function mrrSql(now: Date) {
  return sql`select coalesce(sum(mrr), 0) from (${memberMrrSql(now)}) x`;
}

/** Per platform and per UTM campaign, rebuilt whole. */
async function rebuildSources(trx: Trx, now: Date) {
  await sql`delete from stats_sources`.execute(trx);
  await sql`
    insert into stats_sources (dimension, key, signups, confirmed, eligible_30, retained_30, eligible_90, retained_90, emailed, engaged, paid, mrr_cents)
    with m as (
      select m.source_platform, m.utm_campaign, m.confirmed_at,
        case when m.status in ('unsubscribed', 'bounced', 'complained') then coalesce(m.unsubscribed_at, m.updated_at) end as left_at,
        sm.last_engaged_at, sm.last_emailed_at, p.member_id is not null as upgraded, coalesce(r.mrr, 0) as mrr
      from members m
      left join stats_members sm on sm.member_id = m.id
      left join (select distinct member_id from events where type = 'subscription_started' and member_id is not null and occurred_at <= ${now}) p on p.member_id = m.id
      left join (${memberMrrSql(now)}) r on r.member_id = m.id
      where m.created_at <= ${now}
    )
    select case when grouping(source_platform) = 0 then 'platform' else 'campaign' end,
      coalesce(case when grouping(source_platform) = 0 then source_platform else utm_campaign end, ''),
      count(*),
      count(*) filter (where confirmed_at is not null),
      count(*) filter (where confirmed_at <= ${now}::timestamptz - interval '30 days'),
      count(*) filter (where confirmed_at <= ${now}::timestamptz - interval '30 days' and (left_at is null or left_at > confirmed_at + interval '30 days')),
      count(*) filter (where confirmed_at <= ${now}::timestamptz - interval '90 days'),
      count(*) filter (where confirmed_at <= ${now}::timestamptz - interval '90 days' and (left_at is null or left_at > confirmed_at + interval '90 days')),
      count(*) filter (where last_emailed_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS}) and last_emailed_at <= ${now}),
      count(*) filter (where last_emailed_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS}) and last_emailed_at <= ${now}
        and last_engaged_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS})),
      count(*) filter (where upgraded and confirmed_at is not null),
      sum(mrr)
    from m
    group by grouping sets ((source_platform), (utm_campaign))
    having grouping(source_platform) = 0 or utm_campaign is not null
  `.execute(trx);
}

/**
 * Retention by signup week for the last COHORT_WEEKS weeks: of the confirmed members who signed
 * up in week w, how many were still subscribed at the end of week w+k, and how many engaged
 * (human click, read, comment or reaction) during week w+k. Rebuilt whole; also for all platforms ('').
 */
async function rebuildCohorts(trx: Trx, now: Date, zone: string) {
  await sql`delete from stats_cohorts`.execute(trx);
  const thisWeek = sql`date_trunc('week', ${now}::timestamptz at time zone ${zone})::date`;
  await sql`
    insert into stats_cohorts (platform, week, offset_week, members, subscribed, engaged)
    with c as (
      select m.id, m.source_platform, date_trunc('week', m.created_at at time zone ${zone})::date as week,
        case when m.status in ('unsubscribed', 'bounced', 'complained') then coalesce(m.unsubscribed_at, m.updated_at) end as left_at
      from members m
      where m.confirmed_at is not null and m.created_at >= ${thisWeek} - make_interval(weeks => ${COHORT_WEEKS - 1}) and m.created_at <= ${now}
    ),
    e as (
      select distinct member_id, date_trunc('week', day)::date as week from stats_member_days
      where day >= ${thisWeek} - make_interval(weeks => ${COHORT_WEEKS - 1})
    ),
    o as (
      select c.*, k from c cross join lateral generate_series(0, (${thisWeek} - c.week) / 7) k
    )
    select coalesce(o.source_platform, ''), o.week, o.k, count(*),
      count(*) filter (where o.left_at is null or o.left_at >= (o.week + (o.k + 1) * 7)::timestamp at time zone ${zone}),
      count(e.member_id)
    from o left join e on e.member_id = o.id and e.week = o.week + o.k * 7
    group by grouping sets ((o.source_platform, o.week, o.k), (o.week, o.k))
  `.execute(trx);
}

export { COLD_DAYS };
