import { sql, type Kysely } from 'kysely';
import type { CommentsMode, Database } from '../../../db/types.ts';
import { conversationAccess, type ConversationPost } from './comments.ts';
import { renderComment } from './markdown.ts';
import { REACTIONS, type ReactionKind } from './reactions-set.ts';
import { noCommentMessage, withinEditWindow, type Actor, type HoldReason, type Rights } from './rules.ts';
import { orderReplies, sortThreads, type CommentSort } from './sort.ts';

/**
 * A post's conversation as one reader sees it. Published comments for everyone who may read
 * them; the reader's own held or hidden comments for them alone (with why); a comment its
 * author erased stays as a placeholder only while replies hang under it. Readers who may not
 * read the conversation get the count and nothing of the text.
 */
export interface ReactionCount {
  kind: ReactionKind;
  emoji: string;
  label: string;
  count: number;
  mine: boolean;
}

export interface CommentView {
  id: string;
  parentId: string | null;
  html: string;
  author: string;
  byStaff: boolean;
  mine: boolean;
  /** 'removed': erased or removed, shown only as a placeholder above its replies. */
  state: 'published' | 'held' | 'hidden' | 'removed';
  holdReason: HoldReason | null;
  question: boolean;
  answered: boolean;
  edited: boolean;
  createdAt: Date;
  canEdit: boolean;
  /** The text, for the author's edit form (empty for others). */
  source: string;
  replyingTo: string | null;
  reactions: ReactionCount[];
}

export interface ThreadView {
  comment: CommentView;
  replies: CommentView[];
}

export interface ConversationView {
  mode: CommentsMode;
  rights: Rights;
  /** Why the reader cannot comment, when they cannot. */
  notice: string | null;
  /** Published comments and replies. */
  count: number;
  threads: ThreadView[];
  /** More top-level comments than were shown. */
  more: boolean;
  sort: CommentSort;
  postReactions: ReactionCount[];
  editWindowMinutes: number;
}

/** At most this many comments of one post are loaded; the page shows `shown` top-level ones of them. */
const MAX_LOADED = 5_000;

// Rendering is pure: keep recent renders, keyed by comment and last edit.
const renders = new Map<string, string>();
function rendered(id: string, editedAt: Date | null, body: string): string {
  const key = `${id}:${editedAt?.getTime() ?? 0}`;
  const hit = renders.get(key);
  if (hit !== undefined) return hit;
  const html = renderComment(body);
  if (renders.size >= 5_000) renders.delete(renders.keys().next().value!);
  renders.set(key, html);
  return html;
}

export async function loadConversation(
  db: Kysely<Database>,
  options: { post: ConversationPost; actor: Actor; sort: CommentSort; shown?: number | undefined; brandTitle: string },
): Promise<ConversationView> {
  const { post, actor } = options;
  const access = await conversationAccess(db, post, actor);
  const notice = access.rights.comment ? null : noCommentMessage(access.rights.reason ?? 'not_allowed', access.bannedUntil);
  const base = { mode: access.mode, rights: access.rights, notice, sort: options.sort, editWindowMinutes: access.settings.editWindowMinutes };
  if (access.rights.read === 'count') {
    const row = await db.selectFrom('comments').select(sql<number>`count(*)::int`.as('n')).where('post_id', '=', post.id).where('status', '=', 'published').executeTakeFirstOrThrow();
    return { ...base, count: row.n, threads: [], more: false, postReactions: [] };
  }

  const me = actor.kind === 'member' ? actor.id : null;
  const rows = await db
    .selectFrom('comments as c')
    .leftJoin('members as m', 'm.id', 'c.member_id')
    .leftJoin('staff_users as s', 's.id', 'c.staff_user_id')
    .select(['c.id', 'c.parent_id', 'c.reply_to_id', 'c.member_id', 'c.staff_user_id', 'c.body', 'c.status', 'c.hold_reason', 'c.question', 'c.answered_at', 'c.created_at', 'c.edited_at', 'm.name as member_name', 's.name as staff_name'])
    .where('c.post_id', '=', post.id)
    .where((eb) => {
      const visible = [eb('c.status', '=', 'published'), eb.and([eb('c.parent_id', 'is', null), eb('c.status', '=', 'deleted')])];
      if (me) visible.push(eb.and([eb('c.member_id', '=', me), eb('c.status', 'in', ['held', 'hidden'])]));
      return eb.or(visible);
    })
    .orderBy('c.created_at')
    .orderBy('c.id')
    .limit(MAX_LOADED)
    .execute();
  const reactionRows = await db
    .selectFrom('reactions')
    .select(['comment_id', 'kind', sql<number>`count(*)::int`.as('n'), sql<boolean>`coalesce(bool_or(member_id = ${me ?? '0'}::bigint), false)`.as('mine')])
    .where('post_id', '=', post.id)
    .groupBy(['comment_id', 'kind'])
    .execute();
  const reactionsOf = (commentId: string | null): ReactionCount[] =>
    REACTIONS.map((r) => {
      const row = reactionRows.find((x) => x.comment_id === commentId && x.kind === r.kind);
      return { kind: r.kind, emoji: r.emoji, label: r.label, count: row?.n ?? 0, mine: row?.mine ?? false };
    });

  const now = new Date();
  const names = new Map(rows.map((r) => [r.id, r.staff_user_id ? r.staff_name || options.brandTitle : r.member_name || 'A member']));
  const views = rows.map((r): CommentView => {
    const removed = r.status === 'deleted';
    const mine = me !== null && r.member_id === me;
    return {
      id: r.id,
      parentId: r.parent_id,
      html: removed ? '' : rendered(r.id, r.edited_at, r.body),
      author: removed ? '' : (names.get(r.id) ?? 'A member'),
      byStaff: r.staff_user_id !== null,
      mine: mine && !removed,
      state: removed ? 'removed' : (r.status as 'published' | 'held' | 'hidden'),
      holdReason: r.status === 'held' ? (r.hold_reason as HoldReason | null) : null,
      question: r.question && !removed,
      answered: r.answered_at !== null,
      edited: r.edited_at !== null,
      createdAt: r.created_at,
      canEdit: mine && !removed && r.status !== 'hidden' && access.rights.comment && withinEditWindow(r.created_at, now, access.settings.editWindowMinutes),
      source: mine && !removed ? r.body : '',
      replyingTo: r.reply_to_id && r.reply_to_id !== r.parent_id ? (names.get(r.reply_to_id) ?? null) : null,
      reactions: reactionsOf(r.id),
    };
  });

  const repliesOf = new Map<string, CommentView[]>();
  for (const v of views) if (v.parentId) repliesOf.set(v.parentId, [...(repliesOf.get(v.parentId) ?? []), v]);
  const threads = views
    .filter((v) => v.parentId === null)
    .map((comment) => ({ comment, replies: orderReplies(repliesOf.get(comment.id) ?? [], comment.question) }))
    // A removed comment stays only as the head of replies that are still there.
    .filter((t) => t.comment.state !== 'removed' || t.replies.length > 0)
    .map((t) => ({
      ...t,
      id: t.comment.id,
      createdAt: t.comment.createdAt,
      reactions: t.comment.reactions.reduce((n, r) => n + r.count, 0),
      replies: t.replies,
      replyCount: t.replies.filter((r) => r.state === 'published').length,
      staffReplied: t.replies.some((r) => r.byStaff && r.state === 'published'),
    }));
  const sorted = sortThreads(
    threads.map((t) => ({ id: t.id, createdAt: t.createdAt, reactions: t.reactions, replies: t.replyCount, staffReplied: t.staffReplied, thread: t })),
    options.sort,
  );
  const shown = Math.min(Math.max(options.shown ?? 50, 1), 1_000);
  return {
    ...base,
    count: views.filter((v) => v.state === 'published').length,
    threads: sorted.slice(0, shown).map((s) => ({ comment: s.thread.comment, replies: s.thread.replies })),
    more: sorted.length > shown,
    postReactions: reactionsOf(null),
  };
}
