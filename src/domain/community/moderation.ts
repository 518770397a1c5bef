import { sql, type Kysely } from 'kysely';
import type { CommentStatus, Database } from '../../../db/types.ts';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../lib/errors.ts';
import { announce, conversationAccess, findConversationPostById, postComment, type ConversationContext, type ConversationPost, type Posted } from './comments.ts';
import { limitReport } from './limits.ts';
import { commentToText, renderComment } from './markdown.ts';
import { holdAfterReports, type Actor, type HoldReason } from './rules.ts';

/**
 * Keeping the space clean: members report; moderators (and up) approve, hide, delete, restore,
 * dismiss reports and ban members from the conversation until a date. Every staff action is
 * written to `moderation_log`. Held comments and reported ones make the review queue.
 */
export const REPORT_REASONS = { spam: 'Spam or advertising', abuse: 'Abusive or hateful', off_topic: 'Off topic', other: 'Something else' } as const;
export type ReportReason = keyof typeof REPORT_REASONS;

export function isReportReason(value: string): value is ReportReason {
  return Object.hasOwn(REPORT_REASONS, value);
}

export async function reportComment(db: Kysely<Database>, secret: string, actor: Actor, post: ConversationPost, commentId: string, reason: string): Promise<{ held: boolean }> {
  if (actor.kind !== 'member') throw new UnauthorizedError('Sign in as a member to report a comment.', 'sign_in');
  if (!isReportReason(reason)) throw new ValidationError('Choose why you report this comment.', 'invalid_reason');
  if (!/^\d{1,18}$/.test(commentId)) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  const access = await conversationAccess(db, post, actor);
  if (!access.rights.report) throw new ForbiddenError('You cannot report comments on this post.', 'cannot_report');
  await limitReport(db, secret, actor.id);
  return db.transaction().execute(async (trx) => {
    const c = await trx.selectFrom('comments').select(['id', 'post_id', 'member_id', 'status']).where('id', '=', commentId).forUpdate().executeTakeFirst();
    if (!c || c.post_id !== post.id || c.status !== 'published') throw new NotFoundError('That comment is not there any more.', 'comment_not_found');
    if (c.member_id === actor.id) throw new ValidationError('You cannot report your own comment; you can delete it.', 'own_comment');
    await trx.insertInto('comment_reports').values({ comment_id: c.id, member_id: actor.id, reason }).onConflict((oc) => oc.columns(['comment_id', 'member_id']).doNothing()).execute();
    const open = await trx.selectFrom('comment_reports').select(sql<number>`count(*)::int`.as('n')).where('comment_id', '=', c.id).where('resolved_at', 'is', null).executeTakeFirstOrThrow();
    if (!holdAfterReports(open.n)) return { held: false };
    await trx.updateTable('comments').set({ status: 'held', hold_reason: 'reported' }).where('id', '=', c.id).execute();
    return { held: true };
  });
}

export type ModerationAction = 'approve' | 'hide' | 'delete' | 'restore' | 'dismiss';
export const MODERATION_ACTIONS: readonly ModerationAction[] = ['approve', 'hide', 'delete', 'restore', 'dismiss'];

export function isModerationAction(value: string): value is ModerationAction {
  return (MODERATION_ACTIONS as readonly string[]).includes(value);
}

/**
 * The state a comment moves to, or null when the action does not apply to its state.
 * approve/restore publish a held, hidden or (staff-)deleted comment; dismiss clears the reports
 * (and publishes a comment held only because of them). A comment its author erased stays erased.
 */
export function nextStatus(current: CommentStatus, holdReason: string | null, erased: boolean, action: ModerationAction): CommentStatus | null {
  if (erased) return null;
  switch (action) {
    case 'approve':
    case 'restore':
      return current === 'published' ? null : 'published';
    case 'hide':
      return current === 'published' || current === 'held' ? 'hidden' : null;
    case 'delete':
      return current === 'deleted' ? null : 'deleted';
    case 'dismiss':
      return current === 'held' && holdReason === 'reported' ? 'published' : current === 'published' ? current : null;
  }
}

export async function moderateComment(db: Kysely<Database>, staffUserId: string, commentId: string, action: ModerationAction, note = ''): Promise<CommentStatus> {
  if (!/^\d{1,18}$/.test(commentId)) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  return db.transaction().execute(async (trx) => {
    const c = await trx.selectFrom('comments').select(['id', 'status', 'hold_reason', 'erased', 'member_id', 'staff_user_id', 'parent_id']).where('id', '=', commentId).forUpdate().executeTakeFirst();
    if (!c) throw new NotFoundError('There is no such comment.', 'comment_not_found');
    const next = nextStatus(c.status, c.hold_reason, c.erased, action);
    if (next === null) throw new ConflictError(c.erased ? 'Its author erased this comment; there is nothing to restore.' : `This comment is ${c.status}: it cannot be ${action === 'dismiss' ? 'cleared of reports' : `${action}d`}.`, 'invalid_transition');
    await trx
      .updateTable('comments')
      .set({ status: next, moderated_at: sql<Date>`now()` as unknown as Date, moderated_by: staffUserId, ...(next === 'published' ? { hold_reason: null } : {}) })
      .where('id', '=', c.id)
      .execute();
    await trx.updateTable('comment_reports').set({ resolved_at: sql<Date>`now()` as unknown as Date }).where('comment_id', '=', c.id).where('resolved_at', 'is', null).execute();
    await trx.insertInto('moderation_log').values({ comment_id: c.id, member_id: c.member_id, staff_user_id: staffUserId, action, note: note.slice(0, 500) }).execute();
    if (next === 'published') await announce(trx, c.id);
    // A brand's answer taken down: the question is answered only while another answer stands.
    if (c.staff_user_id && c.parent_id && next !== 'published') {
      await sql`update comments q set answered_at = null
        where q.id = ${c.parent_id} and q.question
          and not exists (select 1 from comments a where a.parent_id = q.id and a.staff_user_id is not null and a.status = 'published')`.execute(trx);
    }
    return next;
  });
}

/** The same action on several comments (the review queue's bulk buttons); those it does not apply to are skipped. */
export async function moderateComments(db: Kysely<Database>, staffUserId: string, commentIds: string[], action: ModerationAction): Promise<{ done: number; skipped: number }> {
  let done = 0;
  let skipped = 0;
  for (const id of [...new Set(commentIds)].slice(0, 200)) {
    try {
      await moderateComment(db, staffUserId, id, action);
      done++;
    } catch (err) {
      if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
      skipped++;
    }
  }
  return { done, skipped };
}

/** The brand answers a question: a staff reply under it (published, badged), which marks it answered. */
export async function answerQuestion(db: Kysely<Database>, ctx: ConversationContext, staff: Extract<Actor, { kind: 'staff' }>, questionId: string, body: string, clientIp: string): Promise<Posted> {
  if (!/^\d{1,18}$/.test(questionId)) throw new NotFoundError('There is no such question.', 'comment_not_found');
  const q = await db.selectFrom('comments').select(['id', 'post_id', 'question', 'parent_id', 'status']).where('id', '=', questionId).executeTakeFirst();
  if (!q || !q.question || q.parent_id !== null) throw new NotFoundError('There is no such question.', 'comment_not_found');
  if (q.status !== 'published') throw new ConflictError('This question is not published; approve it before answering.', 'not_published');
  const post = await findConversationPostById(db, q.post_id);
  if (!post) throw new ConflictError('The post of this question is not published any more.', 'post_unpublished');
  return postComment(db, ctx, staff, post, { body, parentId: q.id, clientIp });
}

/** The posts that have questions, for the inbox's filter. */
export async function questionPosts(db: Kysely<Database>) {
  return db
    .selectFrom('posts as p')
    .select(['p.id', 'p.title', sql<number>`(select count(*)::int from comments c where c.post_id = p.id and c.question and c.status = 'published' and c.answered_at is null)`.as('unanswered')])
    .where(({ exists, selectFrom }) => exists(selectFrom('comments as c').select('c.id').whereRef('c.post_id', '=', 'p.id').where('c.question', '=', true).where('c.status', '=', 'published')))
    .orderBy('p.published_at', 'desc')
    .limit(200)
    .execute();
}

const MAX_BAN_DAYS = 3_650;

export async function banMember(db: Kysely<Database>, staffUserId: string, memberId: string, until: Date, reason: string): Promise<void> {
  if (!/^\d{1,18}$/.test(memberId)) throw new NotFoundError('There is no such member.', 'member_not_found');
  if (Number.isNaN(until.getTime()) || until.getTime() <= Date.now()) throw new ValidationError('Choose an end date for the ban that is still to come.', 'invalid_until');
  if (until.getTime() > Date.now() + MAX_BAN_DAYS * 86_400_000) throw new ValidationError('A ban lasts at most ten years.', 'invalid_until');
  await db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('members').select('id').where('id', '=', memberId).executeTakeFirst();
    if (!member) throw new NotFoundError('There is no such member.', 'member_not_found');
    const values = { member_id: memberId, until, reason: reason.slice(0, 500), created_by: staffUserId };
    await trx
      .insertInto('comment_bans')
      .values(values)
      .onConflict((oc) => oc.column('member_id').doUpdateSet({ until, reason: values.reason, created_by: staffUserId, created_at: sql<Date>`now()` as unknown as Date }))
      .execute();
    await trx.insertInto('moderation_log').values({ member_id: memberId, staff_user_id: staffUserId, action: 'ban', note: `until ${until.toISOString()}${reason ? `: ${reason.slice(0, 400)}` : ''}` }).execute();
  });
}

export async function liftBan(db: Kysely<Database>, staffUserId: string, memberId: string): Promise<void> {
  if (!/^\d{1,18}$/.test(memberId)) throw new NotFoundError('There is no such member.', 'member_not_found');
  await db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('comment_bans').where('member_id', '=', memberId).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError('This member is not banned.', 'not_banned');
    await trx.insertInto('moderation_log').values({ member_id: memberId, staff_user_id: staffUserId, action: 'lift_ban' }).execute();
  });
}

export async function listBans(db: Kysely<Database>) {
  return db
    .selectFrom('comment_bans as b')
    .innerJoin('members as m', 'm.id', 'b.member_id')
    .leftJoin('staff_users as s', 's.id', 'b.created_by')
    .select(['b.member_id', 'm.name', 'b.until', 'b.reason', 'b.created_at', 's.email as by'])
    .where('b.until', '>', sql<Date>`now()`)
    .orderBy('b.until')
    .limit(500)
    .execute();
}

/**
 * Keyset cursors: base64url JSON of the sort key, checked on the way back in. Timestamps travel
 * with PostgreSQL's microseconds (`cursorAt`): a JavaScript Date keeps only milliseconds, and a
 * row whose time was rounded down would come back on the next page.
 */
const cursorAt = sql<string>`to_char(c.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
function encodeCursor(parts: Array<string | number>): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

function decodeCursor(raw: string | undefined | null, shape: Array<'date' | 'id' | 'flag'>): Array<string | number> | undefined {
  if (!raw) return undefined;
  try {
    const parts = JSON.parse(Buffer.from(raw, 'base64url').toString()) as unknown;
    if (Array.isArray(parts) && parts.length === shape.length) {
      const ok = shape.every((kind, i) => {
        const v = parts[i];
        if (kind === 'date') return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(v);
        if (kind === 'id') return typeof v === 'string' && /^\d{1,18}$/.test(v);
        return v === 0 || v === 1;
      });
      if (ok) return parts as Array<string | number>;
    }
  } catch {
    // fall through
  }
  throw new ValidationError('That page link is not valid.', 'invalid_cursor');
}

/** One page of a keyset query fetched with limit + 1 rows: the page, and the cursor after it. */
function pageOf<R extends { cursor_at: string; id: string }>(rows: R[], limit: number, key: (last: R) => Array<string | number> = (r) => [r.cursor_at, r.id]) {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, next: rows.length > limit && last ? encodeCursor(key(last)) : null };
}

function pageSize(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new ValidationError('limit must be a whole number from 1 to 200.', 'invalid_limit');
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
    .leftJoin('comment_bans as b', (j) => j.onRef('b.member_id', '=', 'c.member_id').on('b.until', '>', sql<Date>`now()`))
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
      'c.status',
      'c.hold_reason',
      'c.question',
      'c.created_at',
      'b.until as banned_until',
      cursorAt.as('cursor_at'),
      sql<Array<{ reason: string; count: number }>>`(select coalesce(json_agg(json_build_object('reason', r.reason, 'count', r.n)), '[]'::json) from (select reason, count(*)::int as n from comment_reports where comment_id = c.id and resolved_at is null group by reason) r)`.as('reports'),
    ]);
}

function toItem(r: Awaited<ReturnType<ReturnType<typeof queueBase>['execute']>>[number]): QueueItem {
  return {
    id: r.id,
    postId: r.post_id,
    postSlug: r.slug,
    postTitle: r.title,
    memberId: r.member_id,
    author: r.staff_user_id ? r.staff_name || 'Staff' : r.member_name || 'A member',
    byStaff: r.staff_user_id !== null,
    memberSince: r.member_since,
    html: renderComment(r.body),
    status: r.status,
    holdReason: r.hold_reason as HoldReason | null,
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
  const cursor = decodeCursor(options.after, ['date', 'id']);
  const rows = await queueBase(db)
    .where((eb) => eb.or([eb('c.status', '=', 'held'), eb.and([eb('c.status', '=', 'published'), eb.exists(eb.selectFrom('comment_reports as r').select('r.comment_id').whereRef('r.comment_id', '=', 'c.id').where('r.resolved_at', 'is', null))])]))
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(c.created_at, c.id) > (${cursor![0]}::timestamptz, ${cursor![1]}::bigint)`))
    .orderBy('c.created_at')
    .orderBy('c.id')
    .limit(limit + 1)
    .execute();
  const { page, next } = pageOf(rows, limit);
  return { items: page.map(toItem), next };
}

/** Every comment for the admin's browser, newest first, by status and post; keyset on (created_at, id). */
export async function browseComments(db: Kysely<Database>, options: { status?: CommentStatus | undefined; postId?: string | undefined; limit?: number; after?: string | null } = {}) {
  const limit = pageSize(options.limit, 50);
  const cursor = decodeCursor(options.after, ['date', 'id']);
  if (options.postId !== undefined && !/^\d{1,18}$/.test(options.postId)) throw new ValidationError('post must be a post id.', 'invalid_post');
  const rows = await queueBase(db)
    .where('c.erased', '=', false)
    .$if(options.status !== undefined, (q) => q.where('c.status', '=', options.status!))
    .$if(options.postId !== undefined, (q) => q.where('c.post_id', '=', options.postId!))
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(c.created_at, c.id) < (${cursor![0]}::timestamptz, ${cursor![1]}::bigint)`))
    .orderBy('c.created_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit + 1)
    .execute();
  const { page, next } = pageOf(rows, limit);
  return { items: page.map(toItem), next };
}

/**
 * The questions inbox: unanswered first, then oldest first (a question that has waited longest
 * is at the top), optionally for one post. Keyset on (answered, created_at, id), the order of
 * comments_questions_idx.
 */
export async function questionsInbox(db: Kysely<Database>, options: { postId?: string | undefined; limit?: number; after?: string | null } = {}) {
  const limit = pageSize(options.limit, 50);
  const cursor = decodeCursor(options.after, ['flag', 'date', 'id']);
  if (options.postId !== undefined && !/^\d{1,18}$/.test(options.postId)) throw new ValidationError('post must be a post id.', 'invalid_post');
  const rows = await queueBase(db)
    .select([sql<number>`(c.answered_at is not null)::int`.as('answered'), 'c.answered_at'])
    .where('c.question', '=', true)
    .where('c.status', '=', 'published')
    .$if(options.postId !== undefined, (q) => q.where('c.post_id', '=', options.postId!))
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`((c.answered_at is not null)::int, c.created_at, c.id) > (${cursor![0]}::int, ${cursor![1]}::timestamptz, ${cursor![2]}::bigint)`))
    .orderBy(sql`(c.answered_at is not null)`)
    .orderBy('c.created_at')
    .orderBy('c.id')
    .limit(limit + 1)
    .execute();
  const { page, next } = pageOf(rows, limit, (last) => [last.answered, last.cursor_at, last.id]);
  const answers = page.length
    ? await db
        .selectFrom('comments as a')
        .leftJoin('staff_users as s', 's.id', 'a.staff_user_id')
        .select(['a.parent_id', 'a.body', 'a.created_at', 's.name'])
        .where('a.parent_id', 'in', page.map((p) => p.id))
        .where('a.staff_user_id', 'is not', null)
        .where('a.status', '=', 'published')
        .orderBy('a.created_at')
        .execute()
    : [];
  return {
    items: page.map((r) => ({ ...toItem(r), answeredAt: r.answered_at, answers: answers.filter((a) => a.parent_id === r.id).map((a) => ({ html: renderComment(a.body), by: a.name || 'Staff', at: a.created_at })) })),
    next,
  };
}

/** A comment as the API gives it (docs/api.md). Text as written (Markdown), never rendered. */
export interface CommentJson {
  id: string;
  post_id: string;
  parent_id: string | null;
  member_id: string | null;
  staff_user_id: string | null;
  body: string;
  status: 'published' | 'held' | 'hidden';
  hold_reason: string | null;
  question: boolean;
  answered: boolean;
  created_at: string;
  edited_at: string | null;
}

type ApiStatus = 'published' | 'held' | 'hidden';
const API_STATUSES: readonly ApiStatus[] = ['published', 'held', 'hidden'];

export function parseCommentFilter(params: URLSearchParams): { postId?: string; postSlug?: string; status?: ApiStatus; question?: boolean } {
  const post = params.get('post') ?? '';
  const status = params.get('status') ?? '';
  const question = params.get('question') ?? '';
  if (status && !(API_STATUSES as readonly string[]).includes(status)) throw new ValidationError('status must be published, held or hidden.', 'invalid_status');
  if (question && question !== '1' && question !== '0') throw new ValidationError('question must be 1 or 0.', 'invalid_question');
  if (post.length > 200) throw new ValidationError('post must be a post id or slug.', 'invalid_post');
  return {
    ...(post ? (/^\d{1,18}$/.test(post) ? { postId: post } : { postSlug: post }) : {}),
    ...(status ? { status: status as ApiStatus } : {}),
    ...(question ? { question: question === '1' } : {}),
  };
}

/** Newest first, keyset on (created_at, id); comments erased or deleted are not listed. */
export async function listComments(db: Kysely<Database>, filter: ReturnType<typeof parseCommentFilter>, options: { limit?: number; after?: string | null } = {}): Promise<{ comments: CommentJson[]; next: string | null }> {
  const limit = pageSize(options.limit, 50);
  const cursor = decodeCursor(options.after, ['date', 'id']);
  const rows = await db
    .selectFrom('comments as c')
    .selectAll('c')
    .select(cursorAt.as('cursor_at'))
    .$if(filter.postId !== undefined, (q) => q.where('c.post_id', '=', filter.postId!))
    .$if(filter.postSlug !== undefined, (q) => q.where('c.post_id', '=', (eb) => eb.selectFrom('posts').select('id').where('slug', '=', filter.postSlug!)))
    .where('c.status', 'in', filter.status ? [filter.status] : API_STATUSES)
    .$if(filter.question !== undefined, (q) => q.where('c.question', '=', filter.question!))
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(c.created_at, c.id) < (${cursor![0]}::timestamptz, ${cursor![1]}::bigint)`))
    .orderBy('c.created_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit + 1)
    .execute();
  const { page, next } = pageOf(rows, limit);
  return { comments: page.map(commentJson), next };
}

function commentJson(c: { id: string; post_id: string; parent_id: string | null; member_id: string | null; staff_user_id: string | null; body: string; status: CommentStatus; hold_reason: string | null; question: boolean; answered_at: Date | null; created_at: Date; edited_at: Date | null }): CommentJson {
  return {
    id: c.id,
    post_id: c.post_id,
    parent_id: c.parent_id,
    member_id: c.member_id,
    staff_user_id: c.staff_user_id,
    body: c.body,
    status: c.status as ApiStatus,
    hold_reason: c.status === 'held' ? c.hold_reason : null,
    question: c.question,
    answered: c.answered_at !== null,
    created_at: c.created_at.toISOString(),
    edited_at: c.edited_at?.toISOString() ?? null,
  };
}

export async function getCommentJson(db: Kysely<Database>, commentId: string): Promise<CommentJson> {
  const c = /^\d{1,18}$/.test(commentId) ? await db.selectFrom('comments').selectAll().where('id', '=', commentId).where('status', '<>', 'deleted').executeTakeFirst() : undefined;
  if (!c) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  return commentJson(c);
}

/** A short plain-text line of a comment, for confirmations and logs. */
export function commentLine(body: string): string {
  return commentToText(body, 120);
}
