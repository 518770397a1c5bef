import { sql, type Kysely } from 'kysely';
import type { CommentsMode, Database } from '../../../db/types.ts';
import { siteSettingsSchema } from '../site/settings.ts';
import { accessFrom, type ConversationPost } from './comments.ts';
import { renderComment } from './markdown.ts';
import { REACTIONS, type ReactionKind } from './reactions-set.ts';
import { noCommentMessage, withinEditWindow, type Actor, type HoldReason, type Rights } from './rules.ts';
import { conversationSettingsFrom } from './settings.ts';
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
  /** Set for a reply from the fediverse: the author's server (the author is their @handle@server). */
  fediverseServer: string | null;
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
  /** The brand's name, for the badge on staff replies. */
  brand: string;
  /** The site's time zone (IANA), in which comment times are shown. */
  timeZone: string;
}

/** At most this many comments of one post are loaded; the page shows `shown` top-level ones of them. */
const MAX_LOADED = 5_000;

// Rendering is pure: keep recent renders, keyed by comment and last edit. Bounded by count and
// by characters (5,000 long comments would otherwise hold over 100 MB), oldest out first.
const renders = new Map<string, string>();
const RENDERS_MAX = 5_000;
const RENDERS_MAX_CHARS = 8_000_000;
let renderedChars = 0;
function rendered(id: string, editedMs: number | null, body: string): string {
  const key = `${id}:${editedMs ?? 0}`;
  const hit = renders.get(key);
  if (hit !== undefined) return hit;
  const html = renderComment(body);
  while (renders.size > 0 && (renders.size >= RENDERS_MAX || renderedChars + html.length > RENDERS_MAX_CHARS)) {
    const [oldest, old] = renders.entries().next().value!;
    renders.delete(oldest);
    renderedChars -= old.length;
  }
  renders.set(key, html);
  renderedChars += html.length;
  return html;
}

interface Meta {
  comments_mode: CommentsMode | null;
  conversation: unknown;
  site: unknown;
  banned_until: Date | null;
  published: number;
  post_reactions: Array<{ kind: string; n: number; mine: boolean }>;
}

type Reactions = Array<{ comment_id: string | null; kind: string; n: number; mine: boolean }>;

/** Each comment's reactions in the fixed order, from the grouped rows (indexed once: a busy post has thousands). */
function reactionIndex(rows: Reactions): (commentId: string | null) => ReactionCount[] {
  const byKey = new Map(rows.map((r) => [`${r.comment_id ?? ''}:${r.kind}`, r]));
  return (commentId) =>
    REACTIONS.map((r) => {
      const row = byKey.get(`${commentId ?? ''}:${r.kind}`);
      return { kind: r.kind, emoji: r.emoji, label: r.label, count: row?.n ?? 0, mine: row?.mine ?? false };
    });
}

export async function loadConversation(
  db: Kysely<Database>,
  options: { post: Omit<ConversationPost, 'comments_mode'>; actor: Actor; sort: CommentSort; shown?: number | undefined },
): Promise<ConversationView> {
  const { actor } = options;
  const me = actor.kind === 'member' ? actor.id : null;
  // Every reader of a post page pays for this, so it is one call of a function with cached
  // plans (see migration 0009): the post's rule, both settings rows, the reader's ban, the
  // published count and the post's own reactions. The comments are a second query, made only
  // when there is something to show.
  const meta = (await sql<Meta>`select * from conversation_meta(${options.post.id}::bigint, ${me}::bigint)`.execute(db)).rows[0];
  const post: ConversationPost = { ...options.post, comments_mode: meta?.comments_mode ?? null };
  const site = siteSettingsSchema.safeParse(meta?.site ?? {});
  const settings = site.success ? site.data : siteSettingsSchema.parse({});
  const brand = settings.title;
  const access = accessFrom(conversationSettingsFrom(meta?.conversation), post, actor, meta?.banned_until ?? null);
  const notice = access.rights.comment ? null : noCommentMessage(access.rights.reason ?? 'not_allowed', access.bannedUntil);
  const count = meta?.published ?? 0;
  const postReactions = reactionIndex((meta?.post_reactions ?? []).map((r) => ({ ...r, comment_id: null })))(null);
  const base = {
    mode: access.mode,
    rights: access.rights,
    notice,
    sort: options.sort,
    editWindowMinutes: access.settings.editWindowMinutes,
    brand,
    timeZone: settings.timeZone,
    count,
  };
  if (access.rights.read === 'count') return { ...base, threads: [], more: false, postReactions: [] };
  // Nothing published and no held comment of the reader's own to show.
  if (count === 0 && me === null) return { ...base, threads: [], more: false, postReactions };

  const rows = await db
    .selectFrom('comments as c')
    .leftJoin('members as m', 'm.id', 'c.member_id')
    .leftJoin('staff_users as s', 's.id', 'c.staff_user_id')
    // Times as epoch milliseconds: pg's timestamp parser would be the slowest part of a busy post.
    .select([
      'c.id',
      'c.parent_id',
      'c.reply_to_id',
      'c.member_id',
      'c.staff_user_id',
      'c.body',
      'c.status',
      'c.hold_reason',
      'c.question',
      sql<boolean>`c.answered_at is not null`.as('answered'),
      sql<number>`(extract(epoch from c.created_at) * 1000)::float8`.as('created_ms'),
      sql<number | null>`(extract(epoch from c.edited_at) * 1000)::float8`.as('edited_ms'),
      'm.name as member_name',
      's.name as staff_name',
      'c.remote_handle',
    ])
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
  const reactionRows: Reactions = rows.length
    ? await db
        .selectFrom('reactions')
        .select([
          'comment_id',
          'kind',
          sql<number>`count(*)::int`.as('n'),
          sql<boolean>`coalesce(bool_or(member_id = ${me}::bigint), false)`.as('mine'),
        ])
        .where('post_id', '=', post.id)
        .where('comment_id', 'is not', null)
        .groupBy(['comment_id', 'kind'])
        .execute()
    : [];
  const reactionsOf = reactionIndex(reactionRows);

  const now = new Date();
  const names = new Map(
    rows.map((r) => [r.id, r.staff_user_id ? r.staff_name || brand : (r.remote_handle ?? (r.member_name || 'A member'))]),
  );
  const views = rows.map((r): CommentView => {
    const removed = r.status === 'deleted';
    const mine = me !== null && r.member_id === me;
    const createdAt = new Date(r.created_ms);
    return {
      id: r.id,
      parentId: r.parent_id,
      html: removed ? '' : rendered(r.id, r.edited_ms, r.body),
      author: removed ? '' : (names.get(r.id) ?? 'A member'),
      byStaff: r.staff_user_id !== null,
      fediverseServer: r.remote_handle ? (r.remote_handle.split('@').at(-1) ?? null) : null,
      mine: mine && !removed,
      state: removed ? 'removed' : (r.status as 'published' | 'held' | 'hidden'),
      holdReason: r.status === 'held' ? (r.hold_reason as HoldReason | null) : null,
      question: r.question && !removed,
      answered: r.answered,
      edited: r.edited_ms !== null,
      createdAt,
      canEdit:
        mine &&
        !removed &&
        r.status !== 'hidden' &&
        access.rights.comment &&
        withinEditWindow(createdAt, now, access.settings.editWindowMinutes),
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
    threads.map((t) => ({
      id: t.id,
      createdAt: t.createdAt,
      reactions: t.reactions,
      replies: t.replyCount,
      staffReplied: t.staffReplied,
      thread: t,
    })),
    options.sort,
  );
  const shown = Math.min(Math.max(options.shown ?? 50, 1), 1_000);
  return {
    ...base,
    threads: sorted.slice(0, shown).map((s) => ({ comment: s.thread.comment, replies: s.thread.replies })),
    more: sorted.length > shown,
    postReactions,
  };
}
