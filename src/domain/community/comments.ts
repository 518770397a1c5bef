import { sql, type Kysely } from 'kysely';
import type { CommentsMode, Database, PostVisibility } from '../../../db/types.ts';
import { canRead, type Viewer } from '../content/access.ts';
import { findPublishedPost } from '../content/posts.ts';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../lib/errors.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { detectBurst, fingerprint, BURST_RULE, type RecentComment } from './burst.ts';
import { recordConversationEvent } from './events.ts';
import { limitComment } from './limits.ts';
import { commentHasLinks, validCommentBody } from './markdown.ts';
import { queueNotification } from './notifications.ts';
import {
  ConversationRefusal,
  conversationRights,
  effectiveMode,
  holdReason,
  noCommentMessage,
  withinEditWindow,
  type Actor,
  type HoldReason,
  type Rights,
} from './rules.ts';
import { getConversationSettings, type ConversationSettings } from './settings.ts';
import { isId } from '../../lib/ids.ts';
import { dbNow } from '../../lib/sql.ts';
import { emitWebhookEvent } from '../webhooks/events.ts';
import { queueFediverseAnswer } from '../fediverse/answers-queue.ts';

/**
 * Writing in a post's conversation: posting a comment or a reply (held or published), editing
 * within the window, erasing one's own, marking a question. Staff replies come through here too
 * (always published, always badged); a staff reply in a question's thread answers it.
 */
export interface ConversationPost {
  id: string;
  slug: string;
  title: string;
  visibility: PostVisibility;
  tier_ids: string[];
  comments_mode: CommentsMode | null;
}

/** A published post, as the conversation needs it; undefined when there is none at that address. */
export async function findConversationPost(db: Kysely<Database>, slug: string): Promise<ConversationPost | undefined> {
  const post = await findPublishedPost(db, slug);
  if (!post) return undefined;
  const row = await db.selectFrom('posts').select('comments_mode').where('id', '=', post.id).executeTakeFirstOrThrow();
  return {
    id: post.id,
    slug: post.slug,
    title: post.title,
    visibility: post.visibility,
    tier_ids: post.tier_ids,
    comments_mode: row.comments_mode,
  };
}

export async function findConversationPostById(db: Kysely<Database>, postId: string): Promise<ConversationPost | undefined> {
  if (!isId(postId)) return undefined;
  const row = await db.selectFrom('posts').select('slug').where('id', '=', postId).executeTakeFirst();
  return row ? findConversationPost(db, row.slug) : undefined;
}

export function viewerOf(actor: Actor): Viewer {
  if (actor.kind === 'staff') return { kind: 'staff' };
  if (actor.kind === 'member') return { kind: 'member', status: 'active', paid: actor.paid, tierId: actor.tierId };
  return { kind: 'anonymous' };
}

/** The end of a member's ban from the conversation, when one is running. */
export async function activeBanUntil(db: Kysely<Database>, memberId: string): Promise<Date | null> {
  const row = await db
    .selectFrom('comment_bans')
    .select('until')
    .where('member_id', '=', memberId)
    .where('until', '>', dbNow())
    .executeTakeFirst();
  return row?.until ?? null;
}

export interface Access {
  settings: ConversationSettings;
  mode: CommentsMode;
  rights: Rights;
  bannedUntil: Date | null;
}

/** What this actor may do under this post, with the site's settings it was decided on. */
export async function conversationAccess(db: Kysely<Database>, post: ConversationPost, actor: Actor): Promise<Access> {
  const [settings, bannedUntil] = await Promise.all([
    getConversationSettings(db),
    actor.kind === 'member' ? activeBanUntil(db, actor.id) : Promise.resolve(null),
  ]);
  return accessFrom(settings, post, actor, bannedUntil);
}

/** The same decision from already-loaded settings (the post page loads them in one query). */
export function accessFrom(settings: ConversationSettings, post: ConversationPost, actor: Actor, bannedUntil: Date | null): Access {
  const mode = effectiveMode(post.comments_mode, settings.defaultMode);
  const rights = conversationRights(actor, {
    mode,
    canReadPost: canRead(viewerOf(actor), { visibility: post.visibility, tierIds: post.tier_ids }),
    anonymousView: settings.anonymousView,
    banned: bannedUntil !== null,
  });
  return { settings, mode, rights, bannedUntil };
}

function refusal(actor: Actor, access: Access): Error {
  if (actor.kind === 'anonymous') return new UnauthorizedError('Sign in to join the conversation.', 'sign_in');
  const reason = access.rights.reason ?? 'not_allowed';
  return new ConversationRefusal(noCommentMessage(reason, access.bannedUntil), 'cannot_comment', { reason, until: access.bannedUntil });
}

export interface NewComment {
  body: string;
  /** The comment replied to; a reply to a reply hangs under the same top-level comment. */
  parentId?: string | undefined;
  /** A member's top-level comment may be a question. */
  question?: boolean | undefined;
  clientIp: string;
}

export interface Posted {
  id: string;
  status: 'published' | 'held';
  holdReason: HoldReason | null;
}

// One lock for the burst check: two comments from new accounts arriving together each see the other.
const BURST_LOCK = 0x68656172; // "hear"

export async function postComment(
  db: Kysely<Database>,
  ctx: SiteKeys,
  actor: Actor,
  post: ConversationPost,
  input: NewComment,
): Promise<Posted> {
  if (actor.kind === 'anonymous') throw new UnauthorizedError('Sign in to join the conversation.', 'sign_in');
  const access = await conversationAccess(db, post, actor);
  if (!access.rights.comment) throw refusal(actor, access);
  const body = validCommentBody(input.body);
  if (input.parentId !== undefined && !isId(input.parentId)) throw new ValidationError('That reply names no comment.', 'invalid_parent');
  if (actor.kind === 'member') await limitComment(db, ctx.secret, actor.id, input.clientIp);

  return db.transaction().execute(async (trx) => {
    let parentId: string | null = null;
    let replyToId: string | null = null;
    if (input.parentId) {
      const target = await trx
        .selectFrom('comments')
        .select(['id', 'parent_id', 'post_id', 'status'])
        .where('id', '=', input.parentId)
        .executeTakeFirst();
      if (!target || target.post_id !== post.id || target.status !== 'published')
        throw new NotFoundError('The comment you replied to is not there any more.', 'parent_gone');
      parentId = target.parent_id ?? target.id;
      replyToId = target.id;
    }
    const question = actor.kind === 'member' && parentId === null && Boolean(input.question);
    const print = fingerprint(body);

    let hold: HoldReason | null = null;
    let burstMatches: string[] = [];
    if (actor.kind === 'member') {
      const judged = await judgeMemberComment(trx, actor.id, print, commentHasLinks(body), access.settings, { excludeCommentId: null });
      hold = judged.hold;
      burstMatches = judged.burstMatches;
    }

    const row = await trx
      .insertInto('comments')
      .values({
        post_id: post.id,
        parent_id: parentId,
        reply_to_id: replyToId,
        member_id: actor.kind === 'member' ? actor.id : null,
        staff_user_id: actor.kind === 'staff' ? actor.id : null,
        body,
        status: hold ? 'held' : 'published',
        hold_reason: hold,
        question,
        fingerprint: print,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await emitWebhookEvent(trx, question ? 'question.created' : 'comment.created', {
      id: row.id,
      post_id: post.id,
      member_id: actor.kind === 'member' ? actor.id : null,
      status: hold ? 'held' : 'published',
    });
    if (burstMatches.length > 0) {
      // The earlier comments of the burst were published before it showed: they wait for review too.
      await trx
        .updateTable('comments')
        .set({ status: 'held', hold_reason: 'burst' })
        .where('id', 'in', burstMatches)
        .where('status', '=', 'published')
        .execute();
    }
    if (!hold) await announce(trx, row.id);
    return { id: row.id, status: hold ? 'held' : 'published', holdReason: hold };
  });
}

/**
 * The hold decision for a member's text (new or edited): loads what the pure rules need (is the
 * member new, have they published before, which near-identical comments arrived lately).
 */
async function judgeMemberComment(
  trx: Kysely<Database>,
  memberId: string,
  print: string,
  hasLinks: boolean,
  settings: ConversationSettings,
  options: { excludeCommentId: string | null; firstCommentRule?: boolean },
): Promise<{ hold: HoldReason | null; burstMatches: string[] }> {
  const member = await trx
    .selectFrom('members')
    .select(sql<boolean>`created_at > now() - make_interval(days => ${settings.newMemberDays})`.as('is_new'))
    .where('id', '=', memberId)
    .executeTakeFirst();
  if (!member) throw new UnauthorizedError('Sign in to join the conversation.', 'sign_in');
  const published = await trx
    .selectFrom('comments')
    .select('id')
    .where('member_id', '=', memberId)
    .where('announced', '=', true)
    .limit(1)
    .executeTakeFirst();
  let burst = { burst: false, matches: [] as string[] };
  if (member.is_new && print.length >= BURST_RULE.minLength) {
    await sql`select pg_advisory_xact_lock(${BURST_LOCK})`.execute(trx);
    // The last few minutes of comments by new accounts, site-wide (comments_recent_idx); capped,
    // since during an attack a few hundred copies are plenty to recognise it.
    const recent = await trx
      .selectFrom('comments as c')
      .innerJoin('members as m', 'm.id', 'c.member_id')
      .select(['c.id', 'c.member_id', 'c.fingerprint'])
      .where('c.created_at', '>', dbNow({ minutes: -BURST_RULE.windowMinutes }))
      .where('c.status', 'in', ['published', 'held'])
      .where('c.member_id', '<>', memberId)
      .where('m.created_at', '>', dbNow({ days: -settings.newMemberDays }))
      .$if(options.excludeCommentId !== null, (q) => q.where('c.id', '<>', options.excludeCommentId!))
      .orderBy('c.created_at', 'desc')
      .limit(500)
      .execute();
    const list: RecentComment[] = recent.map((r) => ({ id: r.id, memberId: r.member_id!, fingerprint: r.fingerprint, newAccount: true }));
    burst = detectBurst({ memberId, fingerprint: print, newAccount: true }, list);
  }
  const hold = holdReason({
    byStaff: false,
    holdFirstComment: settings.holdFirstComment && options.firstCommentRule !== false,
    firstComment: !published,
    newMember: member.is_new,
    hasLinks,
    burst: burst.burst,
  });
  return { hold, burstMatches: burst.burst ? burst.matches : [] };
}

/**
 * A comment's first publication: its engagement events and the notifications it owes (a reply
 * to its parent's author, an answer to the question's author). Runs once per comment, whether
 * the comment was published at once or approved later.
 */
export async function announce(trx: Kysely<Database>, commentId: string): Promise<void> {
  const c = await trx
    .updateTable('comments')
    .set({ announced: true })
    .where('id', '=', commentId)
    .where('announced', '=', false)
    .where('status', '=', 'published')
    .returning(['id', 'post_id', 'parent_id', 'reply_to_id', 'member_id', 'staff_user_id', 'question'])
    .executeTakeFirst();
  if (!c) return;
  if (c.member_id) {
    await recordConversationEvent(trx, c.member_id, 'comment', { post_id: c.post_id, comment_id: c.id });
    if (c.question) await recordConversationEvent(trx, c.member_id, 'question', { post_id: c.post_id, comment_id: c.id });
  }
  if (!c.parent_id) return;
  const parents = await trx
    .selectFrom('comments')
    .select(['id', 'member_id', 'question', 'answered_at', 'remote_actor'])
    .where('id', 'in', [c.parent_id, c.reply_to_id ?? c.parent_id])
    .execute();
  const top = parents.find((p) => p.id === c.parent_id);
  const replied = parents.find((p) => p.id === (c.reply_to_id ?? c.parent_id));
  if (c.staff_user_id && top?.question) {
    if (!top.answered_at) await trx.updateTable('comments').set({ answered_at: dbNow() }).where('id', '=', top.id).execute();
    if (top.member_id) await queueNotification(trx, top.member_id, c.id, 'answer');
  }
  if (replied?.member_id && replied.member_id !== c.member_id) await queueNotification(trx, replied.member_id, c.id, 'reply');
  // A staff answer to a fediverse comment goes back to its author as a reply.
  if (c.staff_user_id && replied?.remote_actor) await queueFediverseAnswer(trx, c.id);
}

/** A member's own comment, locked, or a NotFoundError (someone else's comment is "not found" too). */
async function lockOwnComment(trx: Kysely<Database>, actor: Actor, commentId: string) {
  if (actor.kind !== 'member') throw new ForbiddenError('Only the member who wrote a comment can change it.', 'not_author');
  if (!isId(commentId)) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  const c = await trx
    .selectFrom('comments')
    .select(['id', 'post_id', 'parent_id', 'member_id', 'status', 'erased', 'created_at', 'question', 'announced'])
    .where('id', '=', commentId)
    .forUpdate()
    .executeTakeFirst();
  if (!c || c.member_id !== actor.id || c.status === 'deleted')
    throw new NotFoundError('There is no such comment of yours.', 'comment_not_found');
  return c;
}

export async function editComment(
  db: Kysely<Database>,
  actor: Actor,
  post: ConversationPost,
  commentId: string,
  rawBody: string,
): Promise<Posted> {
  const access = await conversationAccess(db, post, actor);
  if (!access.rights.comment) throw refusal(actor, access);
  const body = validCommentBody(rawBody);
  return db.transaction().execute(async (trx) => {
    const c = await lockOwnComment(trx, actor, commentId);
    if (c.post_id !== post.id) throw new NotFoundError('There is no such comment of yours.', 'comment_not_found');
    if (c.status === 'hidden') throw new ForbiddenError('A moderator hid this comment; it cannot be edited.', 'comment_hidden');
    if (!withinEditWindow(c.created_at, new Date(), access.settings.editWindowMinutes)) {
      throw new ConversationRefusal(
        `A comment can be edited for ${access.settings.editWindowMinutes} minutes after posting; that time has passed.`,
        'edit_window_over',
        { limit: access.settings.editWindowMinutes },
      );
    }
    const print = fingerprint(body);
    let status = c.status as 'published' | 'held';
    let reason: HoldReason | null = null;
    if (status === 'published') {
      // An edit cannot slip in what a new comment would have been held for (a link, a copy of a burst).
      const judged = await judgeMemberComment(trx, actor.kind === 'member' ? actor.id : '', print, commentHasLinks(body), access.settings, {
        excludeCommentId: c.id,
        firstCommentRule: false,
      });
      if (judged.hold) {
        status = 'held';
        reason = judged.hold;
      }
      if (judged.burstMatches.length > 0)
        await trx
          .updateTable('comments')
          .set({ status: 'held', hold_reason: 'burst' })
          .where('id', 'in', judged.burstMatches)
          .where('status', '=', 'published')
          .execute();
    }
    await trx
      .updateTable('comments')
      .set({ body, fingerprint: print, edited_at: dbNow(), status, ...(reason ? { hold_reason: reason } : {}) })
      .where('id', '=', c.id)
      .execute();
    return { id: c.id, status, holdReason: reason };
  });
}

/** Erases the member's own comment: the text is gone for good; replies under it stay, under a placeholder. */
export async function deleteOwnComment(db: Kysely<Database>, actor: Actor, commentId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const c = await lockOwnComment(trx, actor, commentId);
    await trx
      .updateTable('comments')
      .set({ status: 'deleted', erased: true, body: '', fingerprint: '', question: false })
      .where('id', '=', c.id)
      .execute();
    await trx.deleteFrom('reactions').where('comment_id', '=', c.id).execute();
    await trx
      .updateTable('comment_reports')
      .set({ resolved_at: dbNow() })
      .where('comment_id', '=', c.id)
      .where('resolved_at', 'is', null)
      .execute();
  });
}

/** Marks (or unmarks) the member's own top-level comment as a question for the brand. */
export async function setQuestion(db: Kysely<Database>, actor: Actor, commentId: string, question: boolean): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const c = await lockOwnComment(trx, actor, commentId);
    if (c.parent_id !== null) throw new ValidationError('Only a comment, not a reply, can be a question.', 'reply_not_question');
    if (c.question === question) return;
    await trx.updateTable('comments').set({ question }).where('id', '=', c.id).execute();
    if (question && c.announced && c.member_id)
      await recordConversationEvent(trx, c.member_id, 'question', { post_id: c.post_id, comment_id: c.id });
  });
}
