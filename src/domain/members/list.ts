import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database, MemberStatus } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { isPlatform } from './sources.ts';
import { isId } from '../../lib/ids.ts';

/**
 * The members list: filters, keyset pagination (never OFFSET), a fast count, and the Member
 * shape of DESIGN.md's API. Every filter is an indexable predicate:
 * - no search: newest first on (created_at desc, id desc), members_created_idx;
 * - search: a prefix of the address or the name, ordered by address in the "C" collation, the
 *   order of members_email_prefix_idx (see migration 0002).
 */
export const MEMBER_STATUSES: readonly MemberStatus[] = ['pending', 'active', 'unsubscribed', 'bounced', 'complained'];

export interface MemberFilter {
  query?: string | undefined;
  status?: MemberStatus | undefined;
  newsletter?: string | undefined;
  tier?: string | undefined;
  label?: string | undefined;
  platform?: string | undefined;
  createdFrom?: Date | undefined;
  createdTo?: Date | undefined;
}

/** Reads a filter from query parameters (the admin's form and the API share it). */
export function parseMemberFilter(params: URLSearchParams): MemberFilter {
  const text = (name: string, max = 200) => {
    const v = params.get(name)?.trim();
    return v ? v.slice(0, max) : undefined;
  };
  const date = (name: string, endOfDay: boolean) => {
    const v = text(name, 40);
    if (!v) return undefined;
    const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T${endOfDay ? '23:59:59.999' : '00:00:00'}Z` : v);
    if (Number.isNaN(d.getTime())) throw new ValidationError(`${name} must be a date like 2026-01-31.`, 'invalid_filter');
    return d;
  };
  const status = text('status');
  if (status && !MEMBER_STATUSES.includes(status as MemberStatus)) {
    throw new ValidationError(`status must be one of ${MEMBER_STATUSES.join(', ')}.`, 'invalid_filter');
  }
  const platform = text('platform');
  if (platform && !isPlatform(platform)) throw new ValidationError(`There is no platform called "${platform}".`, 'invalid_filter');
  return {
    query: text('query'),
    status: status as MemberStatus | undefined,
    newsletter: text('newsletter'),
    tier: text('tier'),
    label: text('label'),
    platform,
    createdFrom: date('created_from', false),
    createdTo: date('created_to', true),
  };
}

/** The filter back as query parameters (for links to the next page, the export, the count). */
export function filterToParams(filter: MemberFilter): URLSearchParams {
  const p = new URLSearchParams();
  if (filter.query) p.set('query', filter.query);
  if (filter.status) p.set('status', filter.status);
  if (filter.newsletter) p.set('newsletter', filter.newsletter);
  if (filter.tier) p.set('tier', filter.tier);
  if (filter.label) p.set('label', filter.label);
  if (filter.platform) p.set('platform', filter.platform);
  if (filter.createdFrom) p.set('created_from', filter.createdFrom.toISOString());
  if (filter.createdTo) p.set('created_to', filter.createdTo.toISOString());
  return p;
}

export function isEmptyFilter(filter: MemberFilter): boolean {
  return filterToParams(filter).toString() === '';
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The WHERE clause of a filter over `members as m`. */
export function memberWhere(filter: MemberFilter) {
  return (eb: ExpressionBuilder<Database & { m: Database['members'] }, 'm'>): Expression<SqlBool> => {
    const parts: Expression<SqlBool>[] = [];
    if (filter.query) {
      const prefix = `${escapeLike(filter.query.toLowerCase())}%`;
      parts.push(eb.or([eb(sql`lower(m.email) collate "C"`, 'like', prefix), eb(sql`lower(m.name) collate "C"`, 'like', prefix)]));
    }
    if (filter.status) parts.push(eb('m.status', '=', filter.status));
    if (filter.platform) parts.push(eb('m.source_platform', '=', filter.platform));
    if (filter.createdFrom) parts.push(eb('m.created_at', '>=', filter.createdFrom));
    if (filter.createdTo) parts.push(eb('m.created_at', '<=', filter.createdTo));
    if (filter.tier) parts.push(eb('m.tier_id', '=', eb.selectFrom('tiers').select('id').where('slug', '=', filter.tier)));
    // Newsletter and label filters name their row by slug or name; resolved once as a scalar
    // subquery, the filter is a hash semi-join on the (newsletter_id, member_id) index instead of
    // a join to newsletters per member (2 s → 0.3 s for a three-filter count at a million).
    if (filter.newsletter) {
      const newsletterId = eb.selectFrom('newsletters').select('id').where('slug', '=', filter.newsletter);
      parts.push(eb('m.id', 'in', eb.selectFrom('member_newsletters as mn').select('mn.member_id').where('mn.newsletter_id', '=', newsletterId)));
    }
    if (filter.label) {
      const labelId = eb.selectFrom('labels').select('id').where(sql`lower(name)`, '=', filter.label.toLowerCase());
      parts.push(eb('m.id', 'in', eb.selectFrom('member_labels as ml').select('ml.member_id').where('ml.label_id', '=', labelId)));
    }
    return eb.and(parts);
  };
}

type Cursor = { k: string; id: string };
function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.k, c.id])).toString('base64url');
}
function decodeCursor(raw: string | undefined): Cursor | undefined {
  if (!raw) return undefined;
  try {
    const [k, id] = JSON.parse(Buffer.from(raw, 'base64url').toString()) as [unknown, unknown];
    if (typeof k === 'string' && typeof id === 'string' && isId(id) && k.length < 400) return { k, id };
  } catch {
    // fall through
  }
  throw new ValidationError('The "after" cursor is not valid; start again from the first page.', 'invalid_cursor');
}

export interface MemberView {
  id: string;
  email: string;
  name: string | null;
  status: MemberStatus;
  tier: string | null;
  newsletters: string[];
  labels: string[];
  source: { platform: string; utm_source: string | null; utm_medium: string | null; utm_campaign: string | null; referrer: string | null; ref: string | null };
  referral_code: string;
  referrals: number;
  created_at: string;
  confirmed_at: string | null;
}

/** Attaches tier, newsletters, labels and referral counts to a page of members in four queries. */
export async function memberViews(db: Kysely<Database>, ids: string[]): Promise<MemberView[]> {
  if (ids.length === 0) return [];
  const [rows, newsletters, labels] = await Promise.all([
    db
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .selectAll('m')
      .select('t.slug as tier_slug')
      .select((eb) =>
        // Counted referrals: confirmed friends that no fraud guard holds (src/domain/referrals).
        eb
          .selectFrom('referrals as r')
          .select(sql<string>`count(*)`.as('n'))
          .whereRef('r.referrer_id', '=', 'm.id')
          .where('r.status', '=', 'counted')
          .as('referrals'),
      )
      .where('m.id', 'in', ids)
      .execute(),
    db.selectFrom('member_newsletters as mn').innerJoin('newsletters as n', 'n.id', 'mn.newsletter_id').select(['mn.member_id', 'n.slug']).where('mn.member_id', 'in', ids).orderBy('n.sort_order').execute(),
    db.selectFrom('member_labels as ml').innerJoin('labels as l', 'l.id', 'ml.label_id').select(['ml.member_id', 'l.name']).where('ml.member_id', 'in', ids).orderBy('l.name').execute(),
  ]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => {
    const r = byId.get(id);
    if (!r) return [];
    return [
      {
        id: r.id,
        email: r.email,
        name: r.name,
        status: r.status,
        tier: r.tier_slug,
        newsletters: newsletters.filter((n) => n.member_id === id).map((n) => n.slug),
        labels: labels.filter((l) => l.member_id === id).map((l) => l.name),
        source: { platform: r.source_platform, utm_source: r.utm_source, utm_medium: r.utm_medium, utm_campaign: r.utm_campaign, referrer: r.referrer, ref: r.ref },
        referral_code: r.referral_code,
        referrals: Number(r.referrals ?? 0),
        created_at: r.created_at.toISOString(),
        confirmed_at: r.confirmed_at?.toISOString() ?? null,
      },
    ];
  });
}

export const MAX_PAGE = 200;

export async function listMembers(
  db: Kysely<Database>,
  filter: MemberFilter,
  page: { limit?: number | undefined; after?: string | undefined } = {},
): Promise<{ members: MemberView[]; next: string | null }> {
  const limit = Math.min(Math.max(1, Math.trunc(page.limit ?? 50) || 50), MAX_PAGE);
  const cursor = decodeCursor(page.after);
  const bySearch = Boolean(filter.query);
  let rows: Array<{ id: string; email: string; created_key: string }>;
  if (bySearch) {
    // Two index ranges (address prefix, name prefix), each already in address order and cut at
    // the page size, merged: a single OR would walk the address index from the start filtering
    // every row ("reader4242" took 150 ms at a million members; this takes a few).
    const prefix = `${escapeLike(filter.query!.toLowerCase())}%`;
    const rest = memberWhere({ ...filter, query: undefined });
    const branch = (column: 'email' | 'name') =>
      db
        .selectFrom('members as m')
        .where(rest)
        .where(sql`lower(m.${sql.ref(column)}) collate "C"`, 'like', prefix)
        .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(lower(m.email) collate "C", m.id) > (${cursor!.k} collate "C", ${cursor!.id}::bigint)`))
        .select(['m.id', 'm.email', sql<string>`lower(m.email) collate "C"`.as('k'), sql<string>`''`.as('created_key')]);
    // The address branch walks its index in page order and stops at the page size. The name
    // branch must not be ordered by address: the planner would then walk the address index and
    // filter every name (1.5 s when no name matches); unordered, it reads the name index range
    // and the few matching rows are sorted below.
    const byEmail = branch('email').orderBy(sql`lower(m.email) collate "C"`).orderBy('m.id').limit(limit + 1);
    const byName = branch('name');
    const merged = await sql<{ id: string; email: string; k: string; created_key: string }>`
      select id, email, k, created_key from (${byEmail} union ${byName}) found
      order by k collate "C", id
      limit ${limit + 1}`.execute(db);
    rows = merged.rows;
  } else {
    let q = db.selectFrom('members as m').where(memberWhere(filter));
    if (cursor) q = q.where(sql<boolean>`(m.created_at, m.id) < (${cursor.k}::timestamptz, ${cursor.id}::bigint)`);
    rows = await q
      .orderBy('m.created_at', 'desc')
      .orderBy('m.id', 'desc')
      .select(['m.id', 'm.email', sql<string>`to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('created_key')])
      .limit(limit + 1)
      .execute();
  }
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  const next = rows.length > limit && last ? encodeCursor({ k: bySearch ? last.email.toLowerCase() : last.created_key, id: last.id }) : null;
  return { members: await memberViews(db, pageRows.map((r) => r.id)), next };
}

/** An exact count of a filter. */
export async function countMembers(db: Kysely<Database>, filter: MemberFilter): Promise<number> {
  const row = await db.selectFrom('members as m').where(memberWhere(filter)).select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** One member for the admin's member page: the API view plus staff notes and the landing page. */
export async function getMemberDetail(db: Kysely<Database>, memberId: string) {
  const [view] = await memberViews(db, [memberId]);
  if (!view) return undefined;
  const extra = await db.selectFrom('members').select(['notes', 'landing_page', 'comp_until', 'tier_source']).where('id', '=', memberId).executeTakeFirstOrThrow();
  return { ...view, notes: extra.notes, landing_page: extra.landing_page, comp_until: extra.comp_until?.toISOString() ?? null, tier_source: extra.tier_source };
}
