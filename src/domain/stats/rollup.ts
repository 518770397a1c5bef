import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { log } from '../../lib/log.ts';
import { getSiteSettings } from '../site/settings.ts';
import { changedScores } from './member-scores.ts';
import { ATTRIBUTION_DAYS, COHORT_WEEKS, COLD_DAYS, ENGAGED_DAYS, SEND_HOURS } from './definitions.ts';
import { isLive } from './live.ts';

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
  /** Milliseconds per part of the run (chunks summed), for the logs and bench/stats.ts. */
  steps?: Record<string, number>;
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
  const steps: Record<string, number> = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      steps[name] = (steps[name] ?? 0) + Math.round(performance.now() - t0);
    }
  };
  return db.connection().execute(async (conn) => {
    const locked = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${STATS_LOCK}) as ok`.execute(conn);
    if (!locked.rows[0]!.ok) return { skipped: true };
    try {
      const plan = await conn.transaction().execute(async (trx) => {
        await roomToCount(trx);
        const plan = await planRun(trx, options);
        // The days' flows (joins, leaves, MRR) of every day this run recounts, in one pass over
        // members (a pass per chunk read the 1M-row table 25 times on a first run). Committed
        // with the plan, before any chunk: an interrupted run has them already for the days it
        // did not reach, and its resumption recounts them from where it goes on.
        const start = plan.resumeFrom ?? plan.from;
        await step('flows', async () =>
          rollDayFlows(trx, start, await nextChunkEnd(trx, plan.now, plan.now, plan.zone), plan.now, plan.zone),
        );
        return plan;
      });
      const { days: bulk, members: bulkMembers } = await conn.transaction().execute(async (trx) => ({
        days: await startBulkFill(trx, plan.incremental),
        members: await step('member indexes', () => startMembersBulkFill(trx, plan.incremental)),
      }));
      let from = plan.resumeFrom ?? plan.from;
      let first = true;
      while (from <= plan.now) {
        const to = await nextChunkEnd(conn, from, plan.now, plan.zone);
        await conn.transaction().execute(async (trx) => {
          const end = to < plan.now ? to : plan.now;
          await roomToCount(trx);
          // A bulk fill has no rows from this chunk on, but where an interrupted one went on from.
          await step('member days', () =>
            rollMemberDays(trx, from, to, end, plan.zone, bulk ? { clear: first, sorted: false } : undefined),
          );
          await step('post days', () => rollPostDays(trx, from, to, end, plan.zone));
          await trx
            .insertInto('stats_state')
            .values({ name: progressKey(plan.zone), value: to })
            .onConflict((oc) => oc.column('name').doUpdateSet({ value: to }))
            .execute();
        });
        from = to;
        first = false;
      }
      if (bulk) await step('member day indexes', () => conn.transaction().execute((trx) => endBulkFill(trx)));
      const sends = await conn.transaction().execute(async (trx) => {
        const { now, zone } = plan;
        await roomToCount(trx);
        const { n, fold } = await step('sends', () => rollSends(trx, plan.from, now));
        await step('members', () => foldMembers(trx, fold, now, zone, plan.previous, bulkMembers));
        await step('levels', () => snapshotLevels(trx, now, zone));
        await step('sources', () => rebuildSources(trx, now));
        await step('cohorts', () => rebuildCohorts(trx, now, zone, plan.incremental ? plan.from : undefined));
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
      // After the run is marked done: a run stopped before this builds them when it starts.
      if (bulkMembers) await step('member indexes', () => conn.transaction().execute((trx) => endMembersBulkFill(trx)));
      const ms = Math.round(performance.now() - started);
      log.debug('stats rollup', { ms, steps });
      return { skipped: false, from: plan.from, sends, ms, steps };
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
  /** A run after a completed one in the same zone: the rows before `from` are as it left them. */
  incremental: boolean;
  /** That completed run's `now`, when incremental. */
  previous: Date | undefined;
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
  return {
    now,
    zone,
    zoneChanged,
    from,
    resumeFrom: resumeFrom && resumeFrom > from ? resumeFrom : undefined,
    incremental: state !== undefined && !zoneChanged,
    previous: state !== undefined && !zoneChanged ? state.value : undefined,
  };
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

/**
 * Memory for this transaction's sorts and hashes. With the server's default (4 MB) a month's
 * member days (a million groups at 20 M events) were sorted on disk in several passes; a rollup
 * runs once every 10 minutes on one connection, so it may take more for the length of one chunk.
 */
const ROLLUP_WORK_MEM = '256MB';
async function roomToCount(trx: Trx): Promise<void> {
  await sql`select set_config('work_mem', ${ROLLUP_WORK_MEM}, true)`.execute(trx);
}

/**
 * Human clicks and reads, comments and reactions, per member per day; and each member's last
 * engagement. One scan of the chunk's engagement_events (one month partition) and events: the
 * member days are aggregated once (in memory, see roomToCount) and both tables are written from
 * that, where the last engagement used to scan the partition again.
 */
async function rollMemberDays(
  trx: Trx,
  from: Date,
  to: Date,
  now: Date,
  zone: string,
  bulk: { clear: boolean; sorted: boolean } = { clear: true, sorted: true },
) {
  if (bulk.clear) {
    // The members whose days are recounted are marked in stats_engaged_pending (with no time):
    // a day of theirs may be gone (a fact deleted or found to be a machine's), and their score
    // is recomputed (foldMembers).
    await sql`
      with gone as (
        delete from stats_member_days
        where day >= (${from}::timestamptz at time zone ${zone})::date and day < (${to}::timestamptz at time zone ${zone})::date
        returning member_id
      )
      insert into stats_engaged_pending (member_id, last_engaged_at) select distinct member_id, '-infinity'::timestamptz from gone
    `.execute(trx);
  }
  await sql`
    with days as materialized (
      -- One aggregation of the raw rows (the comments and reactions of events are a few
      -- thousand a month, added to the same groups), kept for both writes below.
      select member_id, (occurred_at at time zone ${zone})::date as day,
        -- A poll answer is a click on one of the email's (or page's) answers.
        count(*) filter (where kind in ('click', 'poll')) as clicks, count(*) filter (where kind = 'read') as reads,
        count(*) filter (where kind = 'comment') as comments, count(*) filter (where kind = 'reaction') as reactions,
        max(occurred_at) as last_at
      from (
        select member_id, occurred_at, kind
        from engagement_events
        where occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} and member_id is not null and not machine and kind in ('click', 'read', 'poll')
        union all
        select member_id, occurred_at, type
        from events
        where type in ('comment', 'reaction') and occurred_at >= ${from} and occurred_at < ${to} and occurred_at <= ${now} and member_id is not null and not machine
      ) x
      group by 1, 2
    ),
    written as (
      -- In key order: the primary key's leaves are visited once, in order, not at random.
      insert into stats_member_days (member_id, day, clicks, reads, comments, reactions)
      select member_id, day, clicks, reads, comments, reactions from days ${bulk.sorted ? sql`order by member_id, day` : sql``}
    )
    -- Appended, folded into stats_members once at the end of the run (foldMembers).
    insert into stats_engaged_pending (member_id, last_engaged_at)
    select member_id, max(last_at) from days group by member_id
  `.execute(trx);
}

/**
 * A run that fills stats_member_days from empty (a first run, or every day recounted in a new
 * zone) writes its rows without the table's two indexes and builds them once after the last
 * chunk. At 20 M events that is 8.7 M rows: each month's chunk inserted one row per member into
 * every leaf of the primary key (a month's rows fall between the last month's), so the first run
 * rewrote the whole index once per chunk. Built at the end, each index is one sort.
 *
 * Resumable: a run stopped part way leaves the table without its primary key, and the next run
 * (which goes on from the last committed chunk) sees that and builds them when it is done. While
 * they are missing, a member's page reads that member's days with a scan of the table: only
 * during a first run, when the stats are not there yet anyway.
 */
async function startBulkFill(trx: Trx, incremental: boolean): Promise<boolean> {
  const state = await sql<{ keyed: boolean; empty: boolean }>`
    select exists (select 1 from pg_index where indrelid = 'stats_member_days'::regclass and indisprimary) as keyed,
      not exists (select 1 from stats_member_days) as empty`.execute(trx);
  const { keyed, empty } = state.rows[0]!;
  if (!keyed) return true;
  if (incremental || !empty) return false;
  await sql`alter table stats_member_days drop constraint stats_member_days_pkey`.execute(trx);
  await sql`drop index if exists stats_member_days_day_idx`.execute(trx);
  return true;
}

/** The indexes of stats_member_days again, as migration 0011 made them (each one sort of the table). */
async function endBulkFill(trx: Trx): Promise<void> {
  await sql`select set_config('maintenance_work_mem', ${BULK_INDEX_MEM}, true)`.execute(trx);
  // A unique index first (a SHARE lock: readers go on), then the constraint on it (a moment's lock).
  await sql`create unique index if not exists stats_member_days_pkey on stats_member_days (member_id, day)`.execute(trx);
  await sql`alter table stats_member_days add constraint stats_member_days_pkey primary key using index stats_member_days_pkey`.execute(
    trx,
  );
  await sql`create index if not exists stats_member_days_day_idx on stats_member_days (day)`.execute(trx);
}

/** Memory for building those indexes' sorts (the server default, 64 MB, sorts 8.7 M rows on disk). */
const BULK_INDEX_MEM = '512MB';

/**
 * The same for stats_members: a run that finds it empty (a first run) writes its rows (a million
 * at a million members) in one plain insert without the table's four indexes, and builds them
 * after the run is marked done (endMembersBulkFill, its own transaction). The one write with the
 * indexes kept took 56 s at a million members on the busy machine (bench/RESULTS.md): each row
 * went into the primary key and three indexes, at random places in two of them.
 *
 * Resumable: a run stopped before its last transaction committed left the table empty and
 * unindexed, and the next run fills it the same way; one stopped after it (filled, unindexed)
 * has the indexes built by the next run before anything else. Only the rollup writes the table
 * (under its lock), so an unindexed table stays as the last run left it. Returns whether this
 * run fills it in bulk.
 */
async function startMembersBulkFill(trx: Trx, incremental: boolean): Promise<boolean> {
  const state = await sql<{ keyed: boolean; empty: boolean }>`
    select exists (select 1 from pg_index where indrelid = 'stats_members'::regclass and indisprimary) as keyed,
      not exists (select 1 from stats_members) as empty`.execute(trx);
  const { keyed, empty } = state.rows[0]!;
  if (!keyed && !empty) {
    await endMembersBulkFill(trx);
    return false;
  }
  if (!keyed) return true;
  if (incremental || !empty) return false;
  await sql`alter table stats_members drop constraint stats_members_pkey`.execute(trx);
  await sql`drop index if exists stats_members_engaged_idx, stats_members_score_idx, stats_members_active_idx`.execute(trx);
  return true;
}

/** The indexes of stats_members again, as migrations 0011 and 0074 made them. */
async function endMembersBulkFill(trx: Trx): Promise<void> {
  await sql`select set_config('maintenance_work_mem', ${BULK_INDEX_MEM}, true)`.execute(trx);
  await sql`create unique index if not exists stats_members_pkey on stats_members (member_id)`.execute(trx);
  await sql`alter table stats_members add constraint stats_members_pkey primary key using index stats_members_pkey`.execute(trx);
  await sql`create index if not exists stats_members_engaged_idx on stats_members (last_engaged_at)`.execute(trx);
  await sql`create index if not exists stats_members_score_idx on stats_members (score, member_id) where score > 0`.execute(trx);
  await sql`create index if not exists stats_members_active_idx on stats_members (last_engaged_at, member_id) where last_engaged_at is not null`.execute(
    trx,
  );
  await sql`analyze stats_members`.execute(trx);
}

/**
 * The run's changes to stats_members in one write, a member once: the chunks' last engagements
 * (stats_engaged_pending), the latest email of the sends to fold (their posted deliveries) and
 * the engagement scores that changed (member-scores.ts: after a completed run, only the scores of
 * members whose days were recounted or left the window are computed), each merged with the member's row and
 * written only where something moved. These were three upserts of the same rows; on a first run
 * at a million members each rewrote every row (a new version with entries in all four of the
 * table's indexes), 3 M row versions where 1 M rows are written now.
 */
async function foldMembers(trx: Trx, fold: string[], now: Date, zone: string, previous: Date | undefined, bulk: boolean) {
  const emailed =
    fold.length > 0
      ? sql`select member_id, max(posted_at) as at from deliveries
          where send_id in (${sql.join(fold)}) and status = 'posted' and posted_at is not null group by member_id`
      : sql`select null::bigint as member_id, null::timestamptz as at where false`;
  await sql`
    with engaged as (
      select member_id, max(last_engaged_at) as at from stats_engaged_pending where last_engaged_at > '-infinity' group by member_id
    ),
    emailed as (${emailed}),
    scores as (${changedScores(now, zone, previous)}),
    -- A member once, through two full joins. It was a union of the three sets' members joined
    -- back to each set: each set hashed twice, a million rows each on a first run.
    changes as (
      select coalesce(e.member_id, m.member_id) as member_id, e.at as engaged_at, m.at as emailed_at
      from engaged e full join emailed m on m.member_id = e.member_id
    ),
    keyed as (
      select coalesce(c.member_id, s.member_id) as member_id, c.engaged_at, c.emailed_at, s.score
      from changes c full join scores s on s.member_id = c.member_id
    ),
    merged as (
      select k.member_id, sm.member_id is not null as known,
        sm.last_engaged_at as old_engaged, greatest(sm.last_engaged_at, k.engaged_at) as last_engaged_at,
        sm.last_emailed_at as old_emailed, greatest(sm.last_emailed_at, k.emailed_at) as last_emailed_at,
        sm.score as old_score, coalesce(k.score, sm.score, 0::smallint) as score
      from keyed k
      ${
        // After a completed run the changes are few: each member's row by a primary-key probe (as
        // a join, the planner hashed all of stats_members every run, 1 M rows for 30 k changes).
        previous === undefined || bulk
          ? sql`left join stats_members sm on sm.member_id = k.member_id`
          : sql`left join lateral (select * from stats_members x where x.member_id = k.member_id offset 0) sm on true`
      }
    )
    insert into stats_members (member_id, last_engaged_at, last_emailed_at, score)
    select member_id, last_engaged_at, last_emailed_at, score from merged
    where not known or last_engaged_at is distinct from old_engaged or last_emailed_at is distinct from old_emailed or score <> old_score
    ${
      // Into the empty, unindexed table (startMembersBulkFill): a member once, nothing to conflict with.
      bulk
        ? sql``
        : sql`order by member_id
    on conflict (member_id) do update set last_engaged_at = excluded.last_engaged_at, last_emailed_at = excluded.last_emailed_at, score = excluded.score`
    }
  `.execute(trx);
  await sql`truncate stats_engaged_pending`.execute(trx);
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
 *
 * The sends' opens and clicks are read once, all sends together (countSendsFromEvents), for
 * their totals, links and hours. A live send (the tracking writer keeps its counters,
 * send_live_counts: domain/stats/live.ts) takes its totals and links from its counters, which
 * count the same facts as they arrive, and recounts only the hours since this run's start: the
 * incremental run never reads a recent send's million events.
 * The sends whose recipients are to be folded are returned (foldMembers folds them, a member once).
 */
async function rollSends(trx: Trx, from: Date, now: Date): Promise<{ n: number; fold: string[] }> {
  const sends = await sql<{ id: string; prepared_at: Date; status: string; rolled: boolean; counted: boolean }>`
    select s.id, coalesce(s.prepared_at, s.created_at) as prepared_at, s.status, ss.emailed_rolled_at is not null as rolled,
      exists (select 1 from send_live_counts c where c.send_id = s.id and c.link = -1) as counted
    from sends s left join stats_sends ss on ss.send_id = s.id
    where s.status in ('sending', 'paused', 'sent', 'failed', 'cancelled')
      and (ss.send_id is null or ss.emailed_rolled_at is null
        or s.prepared_at > ${now}::timestamptz - make_interval(days => ${ATTRIBUTION_DAYS + 1})
        -- An old send that someone opened or clicked since: one probe of engagement_events_send_idx.
        or exists (select 1 from engagement_events e where e.send_id = s.id and e.kind in ('open', 'click') and e.occurred_at >= ${from} and e.occurred_at <= ${now}))
  `.execute(trx);
  const fold: string[] = [];
  const done: string[] = [];
  // Every send not read from its counters is counted from its events, all in one statement.
  const live = (s: { counted: boolean; prepared_at: Date }) => s.counted && isLive(s.prepared_at, now);
  await countSendsFromEvents(
    trx,
    sends.rows.filter((s) => !live(s)),
    now,
  );
  for (const s of sends.rows) {
    const id = s.id;
    if (live(s)) {
      // The hour a fact fell in since the send started (see countSendsFromEvents).
      const hour = sql`floor(date_part('epoch', occurred_at - ${s.prepared_at}::timestamptz) / 3600)::int`;
      await sql`
        insert into stats_sends (send_id, human_opens, unique_human_opens, machine_opens, human_clicks, unique_human_clicks, machine_clicks, computed_at)
        select send_id, human_opens, unique_human_opens, machine_opens, human_clicks, unique_human_clicks, machine_clicks, ${now}::timestamptz
        from send_live_counts where send_id = ${id} and link = -1
        on conflict (send_id) do update set human_opens = excluded.human_opens, unique_human_opens = excluded.unique_human_opens,
          machine_opens = excluded.machine_opens, human_clicks = excluded.human_clicks, unique_human_clicks = excluded.unique_human_clicks,
          machine_clicks = excluded.machine_clicks, computed_at = excluded.computed_at
      `.execute(trx);
      await sql`delete from stats_send_links where send_id = ${id}`.execute(trx);
      await sql`
        insert into stats_send_links (send_id, link, human_clicks, unique_human_clicks, machine_clicks)
        select l.send_id, l.link, coalesce(c.human_clicks, 0), coalesce(c.unique_human_clicks, 0), coalesce(c.machine_clicks, 0)
        from send_links l left join send_live_counts c on c.send_id = l.send_id and c.link = l.link
        where l.send_id = ${id}
      `.execute(trx);
      // The hours from the start of this run's window on (earlier hours are as counted before).
      const first = sql`greatest(0, floor(date_part('epoch', ${from}::timestamptz - ${s.prepared_at}::timestamptz) / 3600)::int)`;
      await sql`delete from stats_send_hours where send_id = ${id} and hour >= ${first}`.execute(trx);
      await sql`
        insert into stats_send_hours (send_id, hour, human_opens, machine_opens, human_clicks)
        select ${id}::bigint, h,
          count(*) filter (where kind = 'open' and not machine), count(*) filter (where kind = 'open' and machine), count(*) filter (where kind = 'click' and not machine)
        from (
          select kind, machine, ${hour} as h
          from engagement_events where send_id = ${id} and kind in ('open', 'click') and occurred_at <= ${now}
            and occurred_at >= ${s.prepared_at}::timestamptz + make_interval(hours => ${first})
        ) x
        where h between 0 and ${SEND_HOURS - 1}
        group by h
      `.execute(trx);
    }
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
      fold.push(id);
      // A send still going is folded again next run; a finished one is done.
      if (['sent', 'failed', 'cancelled'].includes(s.status)) done.push(id);
    }
  }
  if (done.length > 0) await sql`update stats_sends set emailed_rolled_at = ${now} where send_id in (${sql.join(done)})`.execute(trx);
  // Their recipients are folded into stats_members with the run's other member changes (foldMembers).
  return { n: sends.rows.length, fold };
}

/**
 * Sends counted from their events: totals, links and hours, all sends in one statement that
 * reads their events twice, once for the counts and once for the unique members. Each send's own
 * statement (a scan of its events kept for the statement) read its month partitions again: a
 * week's sends fall in the same one or two months, so seven sends read them seven times (13.5 s
 * of 25 s at 20 M events, bench/RESULTS.md). Kept whole for the statement, 10 M events were 9 s
 * of writing and reading them back; counted straight from the scans, the counts are a few
 * hundred groups (send, kind, machine, link, hour) and the unique members one sort of the human
 * opens and clicks (count(distinct), by send and kind and by send, kind and link in one pass).
 */
async function countSendsFromEvents(trx: Trx, sends: Array<{ id: string; prepared_at: Date }>, now: Date): Promise<void> {
  if (sends.length === 0) return;
  const ids = sql`${sends.map((s) => s.id)}::bigint[]`;
  const prepared = sql`${sends.map((s) => s.prepared_at.toISOString())}::timestamptz[]`;
  await sql`delete from stats_send_links where send_id = any(${ids})`.execute(trx);
  await sql`delete from stats_send_hours where send_id = any(${ids})`.execute(trx);
  await sql`
    with s as (
      select id, prepared_at from unnest(${ids}, ${prepared}) as s(id, prepared_at)
    ),
    c as materialized (
      -- The hour a fact fell in since the send started, in float8 (extract() is numeric, several
      -- times slower over a million rows; whole seconds and microseconds are exact in a float8).
      select e.send_id, e.kind, e.machine, e.link, floor(date_part('epoch', e.occurred_at - s.prepared_at) / 3600)::int as h, count(*) as n
      from engagement_events e join s on s.id = e.send_id
      where e.send_id = any(${ids}) and e.kind in ('open', 'click') and e.occurred_at <= ${now}
      group by 1, 2, 3, 4, 5
    ),
    u as materialized (
      -- Unique human members per send and kind (whole), and per send, kind and link.
      select send_id, kind, link, grouping(link) = 1 as whole, count(distinct member_id) as n
      from engagement_events
      where send_id = any(${ids}) and kind in ('open', 'click') and occurred_at <= ${now} and not machine and member_id is not null
      group by grouping sets ((send_id, kind), (send_id, kind, link))
    ),
    links as (
      insert into stats_send_links (send_id, link, human_clicks, unique_human_clicks, machine_clicks)
      select l.send_id, l.link, coalesce(c.human, 0), coalesce(u.n, 0), coalesce(c.machine, 0)
      from send_links l
      left join (
        select send_id, link, sum(n) filter (where not machine) as human, sum(n) filter (where machine) as machine
        from c where kind = 'click' and link is not null group by send_id, link
      ) c on c.send_id = l.send_id and c.link = l.link
      left join u on u.send_id = l.send_id and u.kind = 'click' and not u.whole and u.link = l.link
      where l.send_id = any(${ids})
    ),
    hours as (
      insert into stats_send_hours (send_id, hour, human_opens, machine_opens, human_clicks)
      select send_id, h,
        coalesce(sum(n) filter (where kind = 'open' and not machine), 0), coalesce(sum(n) filter (where kind = 'open' and machine), 0),
        coalesce(sum(n) filter (where kind = 'click' and not machine), 0)
      from c where h between 0 and ${SEND_HOURS - 1}
      group by send_id, h
    )
    insert into stats_sends (send_id, human_opens, unique_human_opens, machine_opens, human_clicks, unique_human_clicks, machine_clicks, computed_at)
    select s.id, coalesce(t.human_opens, 0), coalesce(uo.n, 0), coalesce(t.machine_opens, 0), coalesce(t.human_clicks, 0), coalesce(uc.n, 0),
      coalesce(t.machine_clicks, 0), ${now}::timestamptz
    from s
    left join (
      select send_id,
        sum(n) filter (where kind = 'open' and not machine) as human_opens, sum(n) filter (where kind = 'open' and machine) as machine_opens,
        sum(n) filter (where kind = 'click' and not machine) as human_clicks, sum(n) filter (where kind = 'click' and machine) as machine_clicks
      from c group by send_id
    ) t on t.send_id = s.id
    left join u uo on uo.send_id = s.id and uo.kind = 'open' and uo.whole
    left join u uc on uc.send_id = s.id and uc.kind = 'click' and uc.whole
    on conflict (send_id) do update set human_opens = excluded.human_opens, unique_human_opens = excluded.unique_human_opens,
      machine_opens = excluded.machine_opens, human_clicks = excluded.human_clicks, unique_human_clicks = excluded.unique_human_clicks,
      machine_clicks = excluded.machine_clicks, computed_at = excluded.computed_at
  `.execute(trx);
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
    from generate_series(greatest(${fromDay}, (select coalesce((min(created_at) at time zone ${zone})::date, ${nowDay}) from members)), ${lastDay}, interval '1 day') d
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
  // One pass over members for both member levels, one over stats_members for both engagement
  // levels (each was read twice, once per figure).
  await sql`
    update stats_days set
      members_free = lv.free, members_paid = lv.paid, mrr_cents = lv.mrr, engaged = lv.engaged, emailed = lv.emailed
    from (
      select m.free, m.paid, (${mrrSql(now)}) as mrr, e.engaged, e.emailed
      from (
        select count(*) filter (where not t.paid) as free, count(*) filter (where t.paid) as paid
        from members m join tiers t on t.id = m.tier_id where m.status = 'active'
      ) m, (
        select count(*) filter (where last_engaged_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS})) as engaged, count(*) as emailed
        from stats_members where last_emailed_at > ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS}) and last_emailed_at <= ${now}
      ) e
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
    -- The window's bounds once (per row, each filter's timestamptz arithmetic was a quarter of the statement).
    with b as materialized (
      select ${now}::timestamptz - interval '30 days' as d30, ${now}::timestamptz - interval '90 days' as d90,
        ${now}::timestamptz - make_interval(days => ${ENGAGED_DAYS}) as engaged_from
    ),
    m as (
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
      count(*) filter (where confirmed_at <= d30),
      count(*) filter (where confirmed_at <= d30 and (left_at is null or left_at > confirmed_at + interval '30 days')),
      count(*) filter (where confirmed_at <= d90),
      count(*) filter (where confirmed_at <= d90 and (left_at is null or left_at > confirmed_at + interval '90 days')),
      count(*) filter (where last_emailed_at > engaged_from and last_emailed_at <= ${now}),
      count(*) filter (where last_emailed_at > engaged_from and last_emailed_at <= ${now} and last_engaged_at > engaged_from),
      count(*) filter (where upgraded and confirmed_at is not null),
      sum(mrr)
    from m, b
    group by grouping sets ((source_platform), (utm_campaign))
    having grouping(source_platform) = 0 or utm_campaign is not null
  `.execute(trx);
}

/**
 * Retention by signup week for the last COHORT_WEEKS weeks: of the confirmed members who signed
 * up in week w, how many were still subscribed at the end of week w+k, and how many engaged
 * (human click, read, comment or reaction) during week w+k. Also for all platforms ('').
 *
 * Members and subscribed are counted from the cohort members each run (a few hundred thousand
 * rows at a million members: each leaver's first offset no longer subscribed, then sums per
 * cell). Engaged reads member days, which is what made this the slowest part of an incremental
 * run (8.9 s at 1 M members: a scan of every member day of the 26 weeks). It is now incremental:
 * member days change only from the run's first day on (`recountFrom`, the start of that day), so
 * the engaged count of a week of days before that week stays what the last run counted, as long
 * as the cohort's members are the same ones. Each cohort week's members are fingerprinted
 * (stats_cohort_weeks, migration 0084: count and two sums of 64-bit hashes of id and platform);
 * a week whose fingerprint moved (a late confirmation, a deleted member, an edited platform or
 * signup date) is recounted whole from its members' own rows, the others only for the weeks of
 * days from `recountFrom` on. Without `recountFrom` (a first run, a new zone) every week is
 * recounted whole. The answers are those of a whole recount (test/integration/stats.test.ts).
 */
async function rebuildCohorts(trx: Trx, now: Date, zone: string, recountFrom: Date | undefined) {
  const thisWeek = sql`date_trunc('week', ${now}::timestamptz at time zone ${zone})::date`;
  // The end of offset k of cohort week w: the first moment not in it, in the zone.
  const end = (k: RawBuilder<unknown>) => sql`(week + (${k} + 1) * 7)::timestamp at time zone ${zone}`;
  await sql`
    create temp table stats_cohort_members on commit drop as
    select m.id, m.source_platform, date_trunc('week', m.created_at at time zone ${zone})::date as week,
      case when m.status in ('unsubscribed', 'bounced', 'complained') then coalesce(m.unsubscribed_at, m.updated_at) end as left_at
    from members m
    where m.confirmed_at is not null and m.created_at >= ${thisWeek} - make_interval(weeks => ${COHORT_WEEKS - 1}) and m.created_at <= ${now}
  `.execute(trx);
  await sql`analyze stats_cohort_members`.execute(trx);
  await sql`
    create temp table stats_cohort_prints on commit drop as
    select week, count(*)::int as members,
      sum(hashtextextended(id::text || '/' || source_platform, 1)) as h1, sum(hashtextextended(id::text || '/' || source_platform, 2)) as h2
    from stats_cohort_members group by week
  `.execute(trx);
  // The weeks to recount whole: every week, or those whose members are not the ones last counted.
  const whole = (
    await sql<{ week: string }>`
      select p.week::text as week from stats_cohort_prints p left join stats_cohort_weeks w on w.week = p.week
      where ${recountFrom === undefined} or w.week is null or (w.members, w.h1, w.h2) is distinct from (p.members, p.h1, p.h2)
    `.execute(trx)
  ).rows.map((r) => r.week);
  const wholeWeeks = sql`${whole}::date[]`;
  // The first week of days this run recounted (member days are recounted from its first day).
  const recountWeek = recountFrom ? sql`date_trunc('week', (${recountFrom}::timestamptz at time zone ${zone})::date)::date` : undefined;
  await sql`
    create temp table stats_cohort_cells on commit drop as
    with sizes as (
      select source_platform, week, count(*) as members from stats_cohort_members group by 1, 2
    ),
    -- Each leaver's first offset at whose end they were no longer subscribed (left_at before its
    -- end): from their local week, then checked against the ends themselves (a DST change at
    -- midnight can move it by one).
    leavers as (
      select source_platform, week, greatest(0, floor(((left_at at time zone ${zone})::date - week) / 7.0)::int) as k0, left_at
      from stats_cohort_members where left_at is not null
    ),
    gone as (
      select source_platform, week, lk, count(*) as n from (
        select source_platform, week,
          case when k0 > 0 and left_at < ${end(sql`k0 - 1`)} then k0 - 1 when left_at < ${end(sql`k0`)} then k0 else k0 + 1 end as lk
        from leavers
      ) x group by 1, 2, 3
    ),
    cells as (
      select s.source_platform, s.week, k, s.members, s.members - coalesce(sum(g.n), 0) as subscribed
      from sizes s cross join lateral generate_series(0, (${thisWeek} - s.week) / 7) k
      left join gone g on g.source_platform = s.source_platform and g.week = s.week and g.lk <= k
      group by 1, 2, 3, 4
    ),
    -- Engaged: weeks recounted whole, from each cohort member's own rows (a primary-key range
    -- per member from their signup week).
    engaged as (
      select c.source_platform, c.week, (date_trunc('week', d.day)::date - c.week) / 7 as k, count(distinct c.id) as engaged
      from stats_cohort_members c join stats_member_days d on d.member_id = c.id and d.day >= c.week
      ${recountWeek ? sql`where c.week = any(${wholeWeeks})` : sql``}
      group by 1, 2, 3
      ${
        recountWeek
          ? sql`
      -- The other weeks: the weeks of days this run recounted, from those days (the day index)...
      union all
      select c.source_platform, c.week, (date_trunc('week', d.day)::date - c.week) / 7, count(distinct c.id)
      from stats_member_days d join stats_cohort_members c on c.id = d.member_id
      where d.day >= ${recountWeek} and d.day >= c.week and c.week <> all(${wholeWeeks})
      group by 1, 2, 3
      -- ... and the weeks before them as the last run counted them.
      union all
      select o.platform, o.week, o.offset_week, o.engaged
      from stats_cohorts o
      where o.platform <> '' and o.engaged > 0 and o.week + o.offset_week * 7 < ${recountWeek}
        and o.week in (select week from sizes) and o.week <> all(${wholeWeeks})`
          : sql``
      }
    ),
    counted as (
      select source_platform, week, k, members, subscribed, 0 as engaged from cells
      union all
      select source_platform, week, k, 0, 0, engaged from engaged
    )
    select coalesce(source_platform, '') as platform, week, k as offset_week, sum(members) as members, sum(subscribed) as subscribed, sum(engaged) as engaged
    from counted
    group by grouping sets ((source_platform, week, k), (week, k))
  `.execute(trx);
  await sql`delete from stats_cohorts`.execute(trx);
  await sql`insert into stats_cohorts (platform, week, offset_week, members, subscribed, engaged) select * from stats_cohort_cells`.execute(
    trx,
  );
  await sql`delete from stats_cohort_weeks`.execute(trx);
  await sql`insert into stats_cohort_weeks (week, members, h1, h2) select week, members, h1, h2 from stats_cohort_prints`.execute(trx);
}

export { COLD_DAYS };
