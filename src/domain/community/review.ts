import { sql, type Kysely } from 'kysely';
import type { Comment, CommentStatus, Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { decodeKeyset, KEYSET_AT, keysetPage } from '../../lib/keyset.ts';
import { renderComment } from './markdown.ts';
import type { HoldReason } from './rules.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * What staff review: the queue of held and reported comments, the comment browser, the questions
 * inbox, the bans, and the API's listing. Reads only; the commands are moderation.ts. Every list
 * pages by keyset (src/lib/keyset.ts), never OFFSET.
 */

const cursorAt = sql<string>`to_char(c.created_at at time zone 'UTC', ${sql.lit(KEYSET_AT)})`;
const byTime = (last: { cursor_at: string; id: string }) => [last.cursor_at, last.id];

function pageSize(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new ValidationError('limit must be a whole number from 1 to 200.', 'invalid_limit');
  return limit;
}

export interface QueueItem {
  id: string;
  postId: string;
  postSlug: string;
  postTitle: string;
  memberId: string | null;
  author: string;
  byStaff: boolean;
  memberSince: Date | null;
  html: string;
  status: CommentStatus;
  holdReason: HoldReason | null;
  /** Why, in words (reports by weight). */
  holdNote: string | null;
  question: boolean;
  reports: Array<{ reason: string; count: number }>;
  createdAt: Date;
  bannedUntil: Date | null;
}

function queueBase(db: Kysely<Database>) {
  return db
    .selectFrom('comments as c')
    .innerJoin('posts as p', 'p.id', 'c.post_id')
    .leftJoin('members as m', 'm.id', 'c.member_id')
    .leftJoin('staff_users as s', 's.id', 'c.staff_user_id')
    .leftJoin('comment_bans as b', (j) => j.onRef('b.member_id', '=', 'c.member_id').on('b.until', '>', dbNow()))
    .select([
      'c.id',
      'c.post_id',
      'p.slug',
      'p.title',
      'c.member_id',
      'c.staff_user_id',
      'm.name as member_name',
      's.name as staff_name',
      'm.created_at as member_since',
      'c.body',
      'c.remote_handle',
      'c.status',
      'c.hold_reason',
      'c.hold_note',
      'c.question',
      'c.created_at',
      'b.until as banned_until',
      cursorAt.as('cursor_at'),
      sql<
        Array<{ reason: string; count: number }>
      >`(select coalesce(json_agg(json_build_object('reason', r.reason, 'count', r.n) order by r.n desc, r.reason), '[]'::json) from (select reason, count(*)::int as n from comment_reports where comment_id = c.id and resolved_at is null group by reason) r)`.as(
        'reports',
      ),
    ]);
}

function toItem(r: Awaited<ReturnType<ReturnType<typeof queueBase>['execute']>>[number]): QueueItem {
  return {
    id: r.id,
    postId: r.post_id,
    postSlug: r.slug,
    postTitle: r.title,
    memberId: r.member_id,
    author: r.staff_user_id ? r.staff_name || 'Staff' : (r.remote_handle ?? (r.member_name || 'A member')),
    byStaff: r.staff_user_id !== null,
    memberSince: r.member_since,
    html: renderComment(r.body),
    status: r.status,
    holdReason: r.hold_reason as HoldReason | null,
    holdNote: r.hold_note,
    question: r.question,
    reports: r.reports,
    createdAt: r.created_at,
    bannedUntil: r.banned_until,
  };
}

/**
 * The review queue: held comments and published ones with open reports, oldest first, so
 * nothing waits forever. Paged by keyset on (created_at, id).
 */
export async function reviewQueue(db: Kysely<Database>, options: { limit?: number; after?: string | null } = {}) {
  const limit = pageSize(options.limit, 50);
  const cursor = decodeKeyset(options.after, ['date', 'id']);
  const rows = await queueBase(db)
    .where((eb) =>
      eb.or([
        eb('c.status', '=', 'held'),
        eb.and([
          eb('c.status', '=', 'published'),
          eb.exists(
            eb
              .selectFrom('comment_reports as r')
              .select('r.comment_id')
              .whereRef('r.comment_id', '=', 'c.id')
              .where('r.resolved_at', 'is', null),
          ),
        ]),
      ]),
    )
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(c.created_at, c.id) > (${cursor![0]}::timestamptz, ${cursor![1]}::bigint)`))
    .orderBy('c.created_at')
    .orderBy('c.id')
    .limit(limit + 1)
    .execute();
  const { page, next } = keysetPage(rows, limit, byTime);
  return { items: page.map(toItem), next };
}

/** Every comment for the admin's browser, newest first, by status and post; keyset on (created_at, id). */
export async function browseComments(
  db: Kysely<Database>,
  options: { status?: CommentStatus | undefined; postId?: string | undefined; limit?: number; after?: string | null } = {},
) {
  const limit = pageSize(options.limit, 50);
  const cursor = decodeKeyset(options.after, ['date', 'id']);
  if (options.postId !== undefined && !isId(options.postId)) throw new ValidationError('post must be a post id.', 'invalid_post');
  const rows = await queueBase(db)
    .where('c.erased', '=', false)
    .$if(options.status !== undefined, (q) => q.where('c.status', '=', options.status!))
    .$if(options.postId !== undefined, (q) => q.where('c.post_id', '=', options.postId!))
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(c.created_at, c.id) < (${cursor![0]}::timestamptz, ${cursor![1]}::bigint)`))
    .orderBy('c.created_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit + 1)
    .execute();
  const { page, next } = keysetPage(rows, limit, byTime);
  return { items: page.map(toItem), next };
}

/**
 * The questions inbox: unanswered first, then oldest first (a question that has waited longest
 * is at the top), optionally for one post. Keyset on (answered, created_at, id), the order of
 * comments_questions_idx.
 */
export async function questionsInbox(
  db: Kysely<Database>,
  options: { postId?: string | undefined; limit?: number; after?: string | null } = {},
) {
  const limit = pageSize(options.limit, 50);
  const cursor = decodeKeyset(options.after, ['flag', 'date', 'id']);
  if (options.postId !== undefined && !isId(options.postId)) throw new ValidationError('post must be a post id.', 'invalid_post');
  const rows = await queueBase(db)
    .select([sql<number>`(c.answered_at is not null)::int`.as('answered'), 'c.answered_at'])
    .where('c.question', '=', true)
    .where('c.status', '=', 'published')
    .$if(options.postId !== undefined, (q) => q.where('c.post_id', '=', options.postId!))
    .$if(cursor !== undefined, (q) =>
      q.where(
        sql<boolean>`((c.answered_at is not null)::int, c.created_at, c.id) > (${cursor![0]}::int, ${cursor![1]}::timestamptz, ${cursor![2]}::bigint)`,
      ),
    )
    .orderBy(sql`(c.answered_at is not null)`)
    .orderBy('c.created_at')
    .orderBy('c.id')
    .limit(limit + 1)
    .execute();
  const { page, next } = keysetPage(rows, limit, (last) => [last.answered, last.cursor_at, last.id]);
  const answers = page.length
    ? await db
        .selectFrom('comments as a')
        .leftJoin('staff_users as s', 's.id', 'a.staff_user_id')
        .select(['a.parent_id', 'a.body', 'a.created_at', 's.name'])
        .where(
          'a.parent_id',
          'in',
          page.map((p) => p.id),
        )
        .where('a.staff_user_id', 'is not', null)
        .where('a.status', '=', 'published')
        .orderBy('a.created_at')
        .execute()
    : [];
  return {
    items: page.map((r) => ({
      ...toItem(r),
      answeredAt: r.answered_at,
      answers: answers
        .filter((a) => a.parent_id === r.id)
        .map((a) => ({ html: renderComment(a.body), by: a.name || 'Staff', at: a.created_at })),
    })),
    next,
  };
}

/** The posts that have questions, for the inbox's filter. */
export async function questionPosts(db: Kysely<Database>) {
  return db
    .selectFrom('posts as p')
    .select([
      'p.id',
      'p.title',
      sql<number>`(select count(*)::int from comments c where c.post_id = p.id and c.question and c.status = 'published' and c.answered_at is null)`.as(
        'unanswered',
      ),
    ])
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('comments as c')
          .select('c.id')
          .whereRef('c.post_id', '=', 'p.id')
          .where('c.question', '=', true)
          .where('c.status', '=', 'published'),
      ),
    )
    .orderBy('p.published_at', 'desc')
    .limit(200)
    .execute();
}

export async function listBans(db: Kysely<Database>) {
  return db
    .selectFrom('comment_bans as b')
    .innerJoin('members as m', 'm.id', 'b.member_id')
    .leftJoin('staff_users as s', 's.id', 'b.created_by')
    .select(['b.member_id', 'm.name', 'b.until', 'b.reason', 'b.created_at', 's.email as by'])
    .where('b.until', '>', dbNow())
    .orderBy('b.until')
    .limit(500)
    .execute();
}

/** The statuses the API lists (deleted and erased comments are not listed). */
export type ListedStatus = 'published' | 'held' | 'hidden';
export const LISTED_STATUSES: readonly ListedStatus[] = ['published', 'held', 'hidden'];

export interface CommentFilter {
  postId?: string;
  postSlug?: string;
  status?: ListedStatus;
  question?: boolean;
}

/** A comment as stored: its text as written (Markdown), never rendered. */
export type CommentRow = Comment;

/** Newest first, keyset on (created_at, id); comments erased or deleted are not listed. */
export async function listComments(
  db: Kysely<Database>,
  filter: CommentFilter,
  options: { limit?: number; after?: string | null } = {},
): Promise<{ comments: CommentRow[]; next: string | null }> {
  const limit = pageSize(options.limit, 50);
  const cursor = decodeKeyset(options.after, ['date', 'id']);
  const rows = await db
    .selectFrom('comments as c')
    .selectAll('c')
    .select(cursorAt.as('cursor_at'))
    .$if(filter.postId !== undefined, (q) => q.where('c.post_id', '=', filter.postId!))
    .$if(filter.postSlug !== undefined, (q) =>
      q.where('c.post_id', '=', (eb) => eb.selectFrom('posts').select('id').where('slug', '=', filter.postSlug!)),
    )
    .where('c.status', 'in', filter.status ? [filter.status] : LISTED_STATUSES)
    .$if(filter.question !== undefined, (q) => q.where('c.question', '=', filter.question!))
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(c.created_at, c.id) < (${cursor![0]}::timestamptz, ${cursor![1]}::bigint)`))
    .orderBy('c.created_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit + 1)
    .execute();
  const { page, next } = keysetPage(rows, limit, byTime);
  return { comments: page.map(({ cursor_at: _, ...c }) => c), next };
}

/** One comment that is not deleted, or a NotFoundError. */
export async function getComment(db: Kysely<Database>, commentId: string): Promise<CommentRow> {
  const c = isId(commentId)
    ? await db.selectFrom('comments').selectAll().where('id', '=', commentId).where('status', '<>', 'deleted').executeTakeFirst()
    : undefined;
  if (!c) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  return c;
}
