import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { decodeKeyset, KEYSET_AT, keysetPage } from '../../lib/keyset.ts';
import { MEMBER_STATUSES, memberWhere, type MemberFilter } from './list.ts';

/**
 * The members table sorted by one of its columns, a page at a time, keyset-paged (never OFFSET)
 * and never sorting every member: each order is an index walked in its direction and cut at the
 * page size (migration 0074 and the indexes before it). A filter is checked on the rows the walk
 * meets, so a very narrow filter walks further (bench/RESULTS.md, "Members list sorted").
 *
 * A column some members have no value for (no name, a score of 0, never active) is read in two
 * parts: the members that have one, through the column's index; then the others, by id. Where
 * those others go is part of the column's meaning: nameless members last either way; a score of
 * 0 and "never active" are the lowest values (first in ascending order, last in descending).
 */
export const MEMBER_SORT_KEYS = ['joined', 'name', 'status', 'score', 'active'] as const;
export type MemberSortKey = (typeof MEMBER_SORT_KEYS)[number];
export type SortDirection = 'asc' | 'desc';
export interface MemberSort {
  key: MemberSortKey;
  dir: SortDirection;
}

/** Newest first: the list's order when none is asked for. */
export const DEFAULT_MEMBER_SORT: MemberSort = { key: 'joined', dir: 'desc' };

/** The direction a column's header starts with (the biggest or latest first, names A–Z). */
export const FIRST_DIRECTION: Record<MemberSortKey, SortDirection> = {
  joined: 'desc',
  name: 'asc',
  status: 'asc',
  score: 'desc',
  active: 'desc',
};

type Part = 'valued' | 'rest';

interface SortColumn {
  /** The column's value in the cursor (text), as SQL over `m` and (when joined) `s`. */
  key: RawBuilder<string>;
  /** The key as the comparison's type, from the cursor's text. */
  cast: (k: string) => RawBuilder<unknown>;
  /** The expression compared and ordered by (its index's leading column). */
  order: RawBuilder<unknown>;
  /** The id that breaks ties, from the same index. */
  tie: 'm.id' | 's.member_id';
  /** Joins stats_members (score, last active). */
  stats?: 'score' | 'active';
  /** Members without a value: none (every member has one), or where they go. */
  rest?: 'last' | 'lowest';
  /** Checks a cursor's key before it reaches SQL. */
  valid: (k: string) => boolean;
}

const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

const COLUMNS: Record<MemberSortKey, SortColumn> = {
  joined: {
    key: sql<string>`to_char(m.created_at at time zone 'UTC', ${sql.lit(KEYSET_AT)})`,
    cast: (k) => sql`${k}::timestamptz`,
    order: sql`m.created_at`,
    tie: 'm.id',
    valid: (k) => DATE.test(k),
  },
  // members_name_search_idx: (lower(name) collate "C", id) where name is not null.
  name: {
    key: sql<string>`lower(m.name) collate "C"`,
    cast: (k) => sql`${k} collate "C"`,
    order: sql`lower(m.name) collate "C"`,
    tie: 'm.id',
    rest: 'last',
    valid: (k) => k.length < 400,
  },
  status: {
    key: sql<string>`m.status`,
    cast: (k) => sql`${k}::text`,
    order: sql`m.status`,
    tie: 'm.id',
    valid: (k) => (MEMBER_STATUSES as readonly string[]).includes(k),
  },
  score: {
    key: sql<string>`s.score::text`,
    cast: (k) => sql`${k}::smallint`,
    order: sql`s.score`,
    tie: 's.member_id',
    stats: 'score',
    rest: 'lowest',
    valid: (k) => /^[1-5]$/.test(k),
  },
  active: {
    key: sql<string>`to_char(s.last_engaged_at at time zone 'UTC', ${sql.lit(KEYSET_AT)})`,
    cast: (k) => sql`${k}::timestamptz`,
    order: sql`s.last_engaged_at`,
    tie: 's.member_id',
    stats: 'active',
    rest: 'lowest',
    valid: (k) => DATE.test(k),
  },
};

/** The parts in the order this sort reads them. */
function partsInOrder(column: SortColumn, dir: SortDirection): Part[] {
  if (!column.rest) return ['valued'];
  return column.rest === 'lowest' && dir === 'asc' ? ['rest', 'valued'] : ['valued', 'rest'];
}

/** "The member has a value" for a stats column: a positive score, or an engagement on record. */
function hasStatsValue(stats: 'score' | 'active', alias: 's' | 'x'): RawBuilder<SqlBool> {
  return stats === 'score'
    ? sql<SqlBool>`${sql.ref(`${alias}.score`)} > 0`
    : sql<SqlBool>`${sql.ref(`${alias}.last_engaged_at`)} is not null`;
}

interface SortedRow {
  id: string;
  k: string | null;
}

/**
 * One page of member ids in the sort's order, and the cursor after it: [sort, part, key, id]
 * (`after` from another sort is refused, as is a key of the wrong shape: 400, never a 500).
 */
export async function sortedMemberIds(
  db: Kysely<Database>,
  filter: MemberFilter,
  sort: MemberSort,
  page: { limit: number; after?: string | undefined },
): Promise<{ ids: string[]; next: string | null }> {
  const column = COLUMNS[sort.key];
  const parts = partsInOrder(column, sort.dir);
  const name = `${sort.key}:${sort.dir}`;
  const raw = decodeKeyset(page.after, ['text', 'flag', 'text', 'id']);
  const cursor = raw && { sort: String(raw[0]), part: (raw[1] === 1 ? 'rest' : 'valued') as Part, k: String(raw[2]), id: String(raw[3]) };
  if (cursor && (cursor.sort !== name || !parts.includes(cursor.part) || (cursor.part === 'valued' && !column.valid(cursor.k)))) {
    throw new ValidationError(
      'The "after" cursor (page link) belongs to another order; start again from the first page.',
      'invalid_cursor',
    );
  }
  const rows: Array<SortedRow & { part: Part }> = [];
  const from = cursor ? parts.indexOf(cursor.part) : 0;
  for (const part of parts.slice(from)) {
    const want = page.limit + 1 - rows.length;
    if (want <= 0) break;
    const after = cursor?.part === part ? cursor : undefined;
    const found =
      part === 'valued'
        ? await valuedPart(db, filter, column, sort.dir, want, after)
        : await restPart(db, filter, column, sort.dir, want, after);
    rows.push(...found.map((r) => ({ ...r, part })));
  }
  const { page: pageRows, next } = keysetPage(rows, page.limit, (last) => [name, last.part === 'rest' ? 1 : 0, last.k ?? '', last.id]);
  return { ids: pageRows.map((r) => r.id), next };
}

/** The members with a value, in (value, id) order from the column's index. */
async function valuedPart(
  db: Kysely<Database>,
  filter: MemberFilter,
  column: SortColumn,
  dir: SortDirection,
  limit: number,
  after: { k: string; id: string } | undefined,
): Promise<SortedRow[]> {
  const tie = sql.ref(column.tie);
  const stats = column.stats;
  const base = stats
    ? db.selectFrom('members as m').innerJoin('stats_members as s', 's.member_id', 'm.id').where(hasStatsValue(stats, 's'))
    : db.selectFrom('members as m').$if(column.rest === 'last', (q) => q.where('m.name', 'is not', null));
  return (base as ReturnType<typeof membersOnly>)
    .where((eb) => memberWhere(filter)(eb))
    .$if(after !== undefined, (q) =>
      q.where(
        sql<SqlBool>`(${column.order}, ${tie}) ${sql.raw(dir === 'asc' ? '>' : '<')} (${column.cast(after!.k)}, ${after!.id}::bigint)`,
      ),
    )
    .select(['m.id', column.key.as('k')])
    .orderBy(column.order, dir)
    .orderBy(tie, dir)
    .limit(limit)
    .execute();
}

/** The members without a value, by id (the primary key), in the sort's direction. */
async function restPart(
  db: Kysely<Database>,
  filter: MemberFilter,
  column: SortColumn,
  dir: SortDirection,
  limit: number,
  after: { id: string } | undefined,
): Promise<SortedRow[]> {
  const stats = column.stats;
  return membersOnly(db)
    .where((eb) => memberWhere(filter)(eb))
    .where(
      stats
        ? sql<SqlBool>`not exists (select 1 from stats_members x where x.member_id = m.id and ${hasStatsValue(stats, 'x')})`
        : sql<SqlBool>`m.name is null`,
    )
    .$if(after !== undefined, (q) => q.where('m.id', dir === 'asc' ? '>' : '<', after!.id))
    .select(['m.id', sql<string | null>`null`.as('k')])
    .orderBy('m.id', dir)
    .limit(limit)
    .execute();
}

function membersOnly(db: Kysely<Database>) {
  return db.selectFrom('members as m');
}
