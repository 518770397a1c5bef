import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError } from '../../lib/errors.ts';
import { isLive, liveSendCounts, liveUnsubscribes } from './live.ts';
import { countedZone } from './rollup.ts';
import { subjectTestReport } from '../sending/subject-test.ts';
import { ENGAGED_DAYS, engagementScore, levelsFromFlows, rate, weekly } from './definitions.ts';

/**
 * What the stats pages and /api/v1/stats/* show. Every function here reads the stats_* rollups
 * only (a few hundred rows at most), never engagement_events: see rollup.ts. A recent send's
 * report adds its live counters (live.ts).
 */

const day = (d: Date) => d.toISOString().slice(0, 10);
const n = (v: string | number | null | undefined) => (v === null || v === undefined ? 0 : Number(v));

export interface OverviewOptions {
  days: number;
}

export async function statsOverview(db: Kysely<Database>, options: OverviewOptions = { days: 90 }) {
  const latest = await db
    .selectFrom('stats_days')
    .selectAll()
    .where('members_free', 'is not', null)
    .orderBy('day', 'desc')
    .limit(1)
    .executeTakeFirst();
  const last = latest ? day(latest.day) : null;
  const rows = latest
    ? await db
        .selectFrom('stats_days')
        .select(['day', 'joined', 'left', 'mrr_new_cents', 'mrr_lost_cents'])
        .where('day', '<=', latest.day)
        .where('day', '>', sql<Date>`${latest.day}::date - ${options.days}::int`)
        .orderBy('day')
        .execute()
    : [];
  const free = n(latest?.members_free);
  const paid = n(latest?.members_paid);
  const mrr = n(latest?.mrr_cents);
  // Every day of the range, with no flow before the first member (stats_days starts there).
  const byDay = new Map(rows.map((r) => [day(r.day), r]));
  const flows = latest
    ? Array.from({ length: options.days }, (_, i) => {
        const d = day(new Date(latest.day.getTime() - (options.days - 1 - i) * 86_400_000));
        const r = byDay.get(d);
        return { day: d, joined: r?.joined ?? 0, left: r?.left ?? 0, mrrNew: n(r?.mrr_new_cents), mrrLost: n(r?.mrr_lost_cents) };
      })
    : [];
  const series = levelsFromFlows(flows, free + paid, mrr);
  const last30 = series.slice(-30);
  const sum = (k: 'joined' | 'left' | 'mrrNew' | 'mrrLost') => last30.reduce((s, d) => s + d[k], 0);
  const engaged = n(latest?.engaged);
  const emailed = n(latest?.emailed);
  return {
    as_of: latest ? latest.computed_at.toISOString() : null,
    day: last,
    members: { free, paid, total: free + paid },
    last_30_days: { joined: sum('joined'), left: sum('left'), net: sum('joined') - sum('left') },
    engagement: { days: ENGAGED_DAYS, engaged, emailed, rate: rate(engaged, emailed) },
    mrr: { cents: mrr, new_cents: sum('mrrNew'), lost_cents: sum('mrrLost'), net_cents: sum('mrrNew') - sum('mrrLost') },
    days: series.map((d) => ({
      day: d.day,
      joined: d.joined,
      left: d.left,
      net: d.net,
      members: d.members,
      mrr_cents: d.mrr,
      mrr_new_cents: d.mrrNew,
      mrr_lost_cents: d.mrrLost,
    })),
    weeks: weekly(series).map((w) => ({
      week: w.week,
      joined: w.joined,
      left: w.left,
      net: w.net,
      members: w.members,
      mrr_cents: w.mrr,
      mrr_new_cents: w.mrrNew,
      mrr_lost_cents: w.mrrLost,
    })),
  };
}

export type Overview = Awaited<ReturnType<typeof statsOverview>>;

export async function statsSources(db: Kysely<Database>) {
  const rows = await db.selectFrom('stats_sources').selectAll().orderBy('dimension').orderBy('signups', 'desc').orderBy('key').execute();
  const view = (r: (typeof rows)[number]) => ({
    key: r.key,
    signups: r.signups,
    confirmed: r.confirmed,
    confirmation_rate: rate(r.confirmed, r.signups),
    retained_30: r.retained_30,
    retained_30_rate: rate(r.retained_30, r.eligible_30),
    retained_90: r.retained_90,
    retained_90_rate: rate(r.retained_90, r.eligible_90),
    emailed: r.emailed,
    engaged: r.engaged,
    engaged_rate: rate(r.engaged, r.emailed),
    paid: r.paid,
    paid_rate: rate(r.paid, r.confirmed),
    mrr_cents: n(r.mrr_cents),
  });
  return {
    platforms: rows.filter((r) => r.dimension === 'platform').map((r) => ({ platform: r.key, ...view(r) })),
    campaigns: rows.filter((r) => r.dimension === 'campaign').map((r) => ({ campaign: r.key, ...view(r) })),
  };
}

export type Sources = Awaited<ReturnType<typeof statsSources>>;

export async function statsCohorts(db: Kysely<Database>, options: { platform: string } = { platform: '' }) {
  const rows = await db
    .selectFrom('stats_cohorts')
    .selectAll()
    .where('platform', '=', options.platform)
    .orderBy('week')
    .orderBy('offset_week')
    .execute();
  const weeks = new Map<
    string,
    {
      week: string;
      members: number;
      weeks: Array<{ offset: number; subscribed: number; engaged: number; subscribed_rate: number | null; engaged_rate: number | null }>;
    }
  >();
  for (const r of rows) {
    const key = day(r.week);
    const w = weeks.get(key) ?? { week: key, members: r.members, weeks: [] };
    w.weeks.push({
      offset: r.offset_week,
      subscribed: r.subscribed,
      engaged: r.engaged,
      subscribed_rate: rate(r.subscribed, r.members),
      engaged_rate: rate(r.engaged, r.members),
    });
    weeks.set(key, w);
  }
  return { platform: options.platform || null, cohorts: [...weeks.values()] };
}

export type Cohorts = Awaited<ReturnType<typeof statsCohorts>>;

export async function statsSend(db: Kysely<Database>, sendId: string) {
  const send = await db
    .selectFrom('sends as s')
    .innerJoin('posts as p', 'p.id', 's.post_id')
    .leftJoin('stats_sends as ss', 'ss.send_id', 's.id')
    .select([
      's.id',
      's.status',
      's.post_id',
      'p.title',
      's.prepared_at',
      's.recipients',
      's.delivered',
      's.bounced',
      's.complained',
      sql<string>`(select coalesce(sum(posted_count), 0) from send_batches b where b.send_id = s.id)`.as('posted'),
      'ss.human_opens',
      'ss.unique_human_opens',
      'ss.machine_opens',
      'ss.human_clicks',
      'ss.unique_human_clicks',
      'ss.machine_clicks',
      'ss.unsubscribes',
      'ss.comments',
      'ss.upgrades',
      'ss.computed_at',
    ])
    .where('s.id', '=', sendId)
    .executeTakeFirst();
  if (!send) throw new NotFoundError('No such send.', 'send_not_found');
  const live = isLive(send.prepared_at);
  const [links, hours, subjectTest, counts, unsubscribes] = await Promise.all([
    db
      .selectFrom('send_links as l')
      .leftJoin('stats_send_links as sl', (j) => j.onRef('sl.send_id', '=', 'l.send_id').onRef('sl.link', '=', 'l.link'))
      .select(['l.link', 'l.url', 'sl.human_clicks', 'sl.unique_human_clicks', 'sl.machine_clicks'])
      .where('l.send_id', '=', sendId)
      .orderBy('l.link')
      .execute(),
    db
      .selectFrom('stats_send_hours')
      .select(['hour', 'human_opens', 'machine_opens', 'human_clicks'])
      .where('send_id', '=', sendId)
      .orderBy('hour')
      .execute(),
    subjectTestReport(db, sendId),
    live ? liveSendCounts(db, sendId) : undefined,
    live ? liveUnsubscribes(db, sendId, send.prepared_at!) : undefined,
  ]);
  // Live sends: the greater of the rollup and the live counter (live.ts says why both).
  const most = (rolled: string | number | null | undefined, now: number | undefined) => Math.max(n(rolled), now ?? 0);
  const w = counts?.whole;
  return {
    send: { id: send.id, status: send.status, post_id: send.post_id, title: send.title, sent_at: send.prepared_at?.toISOString() ?? null },
    as_of: live ? new Date().toISOString() : (send.computed_at?.toISOString() ?? null),
    live,
    recipients: send.recipients,
    posted: n(send.posted),
    delivered: send.delivered,
    bounced: send.bounced,
    complaints: send.complained,
    opens: {
      human: most(send.human_opens, w?.human_opens),
      unique_human: most(send.unique_human_opens, w?.unique_human_opens),
      machine: most(send.machine_opens, w?.machine_opens),
    },
    clicks: {
      human: most(send.human_clicks, w?.human_clicks),
      unique_human: most(send.unique_human_clicks, w?.unique_human_clicks),
      machine: most(send.machine_clicks, w?.machine_clicks),
    },
    click_rate: rate(most(send.unique_human_clicks, w?.unique_human_clicks), send.delivered || n(send.posted)),
    unsubscribes: most(send.unsubscribes, unsubscribes),
    // The issue's flat names for the live figures, beside the grouped ones.
    human_opens: most(send.human_opens, w?.human_opens),
    machine_opens: most(send.machine_opens, w?.machine_opens),
    human_clicks: most(send.unique_human_clicks, w?.unique_human_clicks),
    unsubscribed: most(send.unsubscribes, unsubscribes),
    comments: n(send.comments),
    upgrades: n(send.upgrades),
    links: links.map((l) => ({
      link: l.link,
      url: l.url,
      human_clicks: most(l.human_clicks, counts?.links.get(l.link)?.human_clicks),
      unique_human_clicks: most(l.unique_human_clicks, counts?.links.get(l.link)?.unique_human_clicks),
      machine_clicks: most(l.machine_clicks, counts?.links.get(l.link)?.machine_clicks),
    })),
    hours: hours.map((h) => ({ hour: h.hour, human_opens: h.human_opens, machine_opens: h.machine_opens, human_clicks: h.human_clicks })),
    subject_test: subjectTest,
  };
}

export type SendStats = Awaited<ReturnType<typeof statsSend>>;

/** Member reads and anonymous views of a post, in total and by day. */
export async function statsPost(db: Kysely<Database>, postId: string) {
  const rows = await db
    .selectFrom('stats_post_days')
    .select(['day', 'reads', 'views'])
    .where('post_id', '=', postId)
    .orderBy('day')
    .execute();
  return {
    post_id: postId,
    reads: rows.reduce((s, r) => s + r.reads, 0),
    views: rows.reduce((s, r) => s + r.views, 0),
    days: rows.map((r) => ({ day: day(r.day), reads: r.reads, views: r.views })),
  };
}

export type PostStats = Awaited<ReturnType<typeof statsPost>>;

/** A member's engagement score (0–5), its reasons, and the cold flag, from the rollups. */
export async function memberEngagement(db: Kysely<Database>, memberId: string, now = new Date()) {
  const member = await db.selectFrom('members').select(['id', 'created_at']).where('id', '=', memberId).executeTakeFirst();
  if (!member) throw new NotFoundError('No such member.', 'member_not_found');
  const zone = await countedZone(db);
  const [counts, last] = await Promise.all([
    db
      .selectFrom('stats_member_days')
      .select([
        sql<string>`coalesce(sum(clicks), 0)`.as('clicks'),
        sql<string>`coalesce(sum(reads), 0)`.as('reads'),
        sql<string>`coalesce(sum(comments), 0)`.as('comments'),
        sql<string>`coalesce(sum(reactions), 0)`.as('reactions'),
      ])
      .where('member_id', '=', memberId)
      .where('day', '>', sql<Date>`(${now}::timestamptz at time zone ${zone})::date - ${ENGAGED_DAYS}::int`)
      .executeTakeFirstOrThrow(),
    db.selectFrom('stats_members').select(['last_engaged_at', 'last_emailed_at']).where('member_id', '=', memberId).executeTakeFirst(),
  ]);
  const c = {
    clicks: n(counts.clicks),
    reads: n(counts.reads),
    comments: n(counts.comments),
    reactions: n(counts.reactions),
    lastEngagedAt: last?.last_engaged_at ?? null,
  };
  return {
    ...engagementScore(c, member.created_at, now),
    counts: { clicks: c.clicks, reads: c.reads, comments: c.comments, reactions: c.reactions },
    last_engaged_at: c.lastEngagedAt?.toISOString() ?? null,
    last_emailed_at: last?.last_emailed_at?.toISOString() ?? null,
  };
}

/** The latest sends that went out, with their headline figures (the overview's table). */
export async function recentSendStats(db: Kysely<Database>, limit = 10) {
  const rows = await db
    .selectFrom('sends as s')
    .innerJoin('posts as p', 'p.id', 's.post_id')
    .leftJoin('stats_sends as ss', 'ss.send_id', 's.id')
    .select([
      's.id',
      's.status',
      'p.title',
      's.prepared_at',
      's.recipients',
      's.delivered',
      'ss.unique_human_opens',
      'ss.unique_human_clicks',
      'ss.unsubscribes',
      'ss.comments',
      'ss.upgrades',
    ])
    // A send cancelled before any email left is not a send that happened: it stays off "Latest sends".
    .where((eb) =>
      eb.or([
        eb('s.status', 'in', ['sending', 'paused', 'sent', 'failed']),
        eb.and([
          eb('s.status', '=', 'cancelled'),
          eb.exists(
            eb.selectFrom('deliveries as d').select('d.send_id').whereRef('d.send_id', '=', 's.id').where('d.status', '=', 'posted'),
          ),
        ]),
      ]),
    )
    .orderBy('s.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    /** A send cancelled part-way is listed (some emails left) and says so. */
    status: r.status,
    sent_at: r.prepared_at?.toISOString() ?? null,
    recipients: r.recipients,
    delivered: r.delivered,
    unique_human_clicks: n(r.unique_human_clicks),
    click_rate: rate(n(r.unique_human_clicks), r.delivered || r.recipients),
    unsubscribes: n(r.unsubscribes),
    comments: n(r.comments),
    upgrades: n(r.upgrades),
  }));
}
