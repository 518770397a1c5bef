import { sql, type Kysely } from 'kysely';
import type { CommentStatus, Database } from '../../../db/types.ts';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { announce, conversationAccess, findConversationPostById, postComment, type ConversationPost, type Posted } from './comments.ts';
import { limitReport } from './limits.ts';
import { holdByReports, type Actor } from './rules.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { dbNow } from '../../lib/sql.ts';
import { liveCommentReported } from '../live/hooks.ts';

/**
 * Keeping the space clean, the commands: members report; moderators (and up) approve, hide,
 * delete, restore, dismiss reports, answer questions, and ban members from the conversation
 * until a date. Every staff action is written to `moderation_log`. What staff review (the queue,
 * the questions inbox, the comment browser, the API's listing) is review.ts.
 */
export const REPORT_REASONS = {
  spam: 'Spam or advertising',
  abuse: 'Abusive or hateful',
  off_topic: 'Off topic',
  other: 'Something else',
} as const;
export type ReportReason = keyof typeof REPORT_REASONS;

export function isReportReason(value: string): value is ReportReason {
  return Object.hasOwn(REPORT_REASONS, value);
}

export async function reportComment(
  db: Kysely<Database>,
  secret: string,
  actor: Actor,
  post: ConversationPost,
  commentId: string,
  reason: string,
): Promise<{ held: boolean }> {
  if (actor.kind !== 'member') throw new UnauthorizedError('Sign in as a member to report a comment.', 'sign_in');
  if (!isReportReason(reason)) throw new ValidationError('Choose why you report this comment.', 'invalid_reason');
  if (!isId(commentId)) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  const access = await conversationAccess(db, post, actor);
  if (!access.rights.report) throw new ForbiddenError('You cannot report comments on this post.', 'cannot_report');
  await limitReport(db, secret, actor.id);
  return db.transaction().execute(async (trx) => {
    const c = await trx
      .selectFrom('comments')
      .select(['id', 'post_id', 'member_id', 'status'])
      .where('id', '=', commentId)
      .forUpdate()
      .executeTakeFirst();
    if (!c || c.post_id !== post.id || c.status !== 'published')
      throw new NotFoundError('That comment is not there any more.', 'comment_not_found');
    if (c.member_id === actor.id) throw new ValidationError('You cannot report your own comment; you can delete it.', 'own_comment');
    await trx
      .insertInto('comment_reports')
      .values({ comment_id: c.id, member_id: actor.id, reason })
      .onConflict((oc) => oc.columns(['comment_id', 'member_id']).doNothing())
      .execute();
    // Weighed by who reports (rules.ts): account age, and whether they were ever moderated.
    const reporters = await sql<{ age_days: number; moderated: boolean }>`
      select extract(epoch from now() - m.created_at)::float8 / 86400 as age_days,
        exists (select 1 from moderation_log l where l.member_id = m.id and l.action in ('hide', 'delete'))
          or exists (select 1 from comment_bans b where b.member_id = m.id) as moderated
      from comment_reports r join members m on m.id = r.member_id
      where r.comment_id = ${c.id} and r.resolved_at is null`.execute(trx);
    const verdict = holdByReports(reporters.rows.map((r) => ({ ageDays: r.age_days, moderated: r.moderated })));
    await liveCommentReported(trx, c.id, c.post_id, verdict.held);
    if (!verdict.held) return { held: false };
    await trx
      .updateTable('comments')
      .set({ status: 'held', hold_reason: 'reported', hold_note: verdict.note })
      .where('id', '=', c.id)
      .execute();
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
export function nextStatus(
  current: CommentStatus,
  holdReason: string | null,
  erased: boolean,
  action: ModerationAction,
): CommentStatus | null {
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

export async function moderateComment(
  db: Kysely<Database>,
  staffUserId: string,
  commentId: string,
  action: ModerationAction,
  note = '',
): Promise<CommentStatus> {
  if (!isId(commentId)) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  return db.transaction().execute(async (trx) => {
    const c = await trx
      .selectFrom('comments')
      .select(['id', 'status', 'hold_reason', 'erased', 'member_id', 'staff_user_id', 'parent_id'])
      .where('id', '=', commentId)
      .forUpdate()
      .executeTakeFirst();
    if (!c) throw new NotFoundError('There is no such comment.', 'comment_not_found');
    const next = nextStatus(c.status, c.hold_reason, c.erased, action);
    if (next === null)
      throw new ConflictError(
        c.erased
          ? 'Its author erased this comment; there is nothing to restore.'
          : `This comment is ${c.status}: it cannot be ${action === 'dismiss' ? 'cleared of reports' : `${action}d`}.`,
        'invalid_transition',
      );
    await trx
      .updateTable('comments')
      .set({
        status: next,
        moderated_at: dbNow(),
        moderated_by: staffUserId,
        ...(next === 'published' ? { hold_reason: null } : {}),
      })
      .where('id', '=', c.id)
      .execute();
    await trx
      .updateTable('comment_reports')
      .set({ resolved_at: dbNow() })
      .where('comment_id', '=', c.id)
      .where('resolved_at', 'is', null)
      .execute();
    await trx
      .insertInto('moderation_log')
      .values({ comment_id: c.id, member_id: c.member_id, staff_user_id: staffUserId, action, note: note.slice(0, 500) })
      .execute();
    if (next === 'published') await announce(trx, c.id);
    // A brand's answer taken down: the question is answered only while another answer stands.
    if (c.staff_user_id && c.parent_id && next !== 'published') {
      await sql`update comments q set answered_at = null
        where q.id = ${c.parent_id} and q.question
          and not exists (select 1 from comments a where a.parent_id = q.id and a.staff_user_id is not null and a.status = 'published')`.execute(
        trx,
      );
    }
    return next;
  });
}

/** The same action on several comments (the review queue's bulk buttons); those it does not apply to are skipped. */
export async function moderateComments(
  db: Kysely<Database>,
  staffUserId: string,
  commentIds: string[],
  action: ModerationAction,
): Promise<{ done: number; skipped: number }> {
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
export async function answerQuestion(
  db: Kysely<Database>,
  keys: SiteKeys,
  staff: Extract<Actor, { kind: 'staff' }>,
  questionId: string,
  body: string,
  clientIp: string,
): Promise<Posted> {
  if (!isId(questionId)) throw new NotFoundError('There is no such question.', 'comment_not_found');
  const q = await db
    .selectFrom('comments')
    .select(['id', 'post_id', 'question', 'parent_id', 'status'])
    .where('id', '=', questionId)
    .executeTakeFirst();
  if (!q || !q.question || q.parent_id !== null) throw new NotFoundError('There is no such question.', 'comment_not_found');
  if (q.status !== 'published') throw new ConflictError('This question is not published; approve it before answering.', 'not_published');
  const post = await findConversationPostById(db, q.post_id);
  if (!post) throw new ConflictError('The post of this question is not published any more.', 'post_unpublished');
  return postComment(db, keys, staff, post, { body, parentId: q.id, clientIp });
}

const MAX_BAN_DAYS = 3_650;

export async function banMember(db: Kysely<Database>, staffUserId: string, memberId: string, until: Date, reason: string): Promise<void> {
  if (!isId(memberId)) throw new NotFoundError('There is no such member.', 'member_not_found');
  if (Number.isNaN(until.getTime()) || until.getTime() <= Date.now())
    throw new ValidationError('Choose an end date for the ban that is still to come.', 'invalid_until');
  if (until.getTime() > Date.now() + MAX_BAN_DAYS * 86_400_000)
    throw new ValidationError('A ban lasts at most ten years.', 'invalid_until');
  await db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('members').select('id').where('id', '=', memberId).executeTakeFirst();
    if (!member) throw new NotFoundError('There is no such member.', 'member_not_found');
    const values = { member_id: memberId, until, reason: reason.slice(0, 500), created_by: staffUserId };
    await trx
      .insertInto('comment_bans')
      .values(values)
      .onConflict((oc) =>
        oc.column('member_id').doUpdateSet({ until, reason: values.reason, created_by: staffUserId, created_at: dbNow() }),
      )
      .execute();
    await trx
      .insertInto('moderation_log')
      .values({
        member_id: memberId,
        staff_user_id: staffUserId,
        action: 'ban',
        note: `until ${until.toISOString()}${reason ? `: ${reason.slice(0, 400)}` : ''}`,
      })
      .execute();
  });
}

export async function liftBan(db: Kysely<Database>, staffUserId: string, memberId: string): Promise<void> {
  if (!isId(memberId)) throw new NotFoundError('There is no such member.', 'member_not_found');
  await db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('comment_bans').where('member_id', '=', memberId).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError('This member is not banned.', 'not_banned');
    await trx.insertInto('moderation_log').values({ member_id: memberId, staff_user_id: staffUserId, action: 'lift_ban' }).execute();
  });
}
