import { sql, type Kysely } from 'kysely';
import type { CommentsMode, Database } from '../../../db/types.ts';
import { siteSettingsSchema, type SiteSettings } from '../site/settings.ts';
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
  /** When it was last edited (epoch ms), or null. */
  editedMs: number | null;
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
  /** Until when the reader is banned, when they are. */
  bannedUntil: Date | null;
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

/** Top-level comments (with their replies) on a post page before "Show more comments". */
export const FIRST_SCREEN = 20;

// Rendering is pure: keep recent renders, keyed by comment and last edit, each with the text it
// was made from (compared on a hit: a text can change without a new edit time, and a comment must
// never show what it no longer says). Bounded by count and by characters (5,000 long comments
// would otherwise hold over 100 MB), oldest out first.
const renders = new Map<string, { body: string; html: string }>();
const RENDERS_MAX = 5_000;
const RENDERS_MAX_CHARS = 8_000_000;
let renderedChars = 0;
function rendered(id: string, editedMs: number | null, body: string): string {
  const key = `${id}:${editedMs ?? 0}`;
  const hit = renders.get(key);
  if (hit !== undefined && hit.body === body) return hit.html;
  if (hit !== undefined) {
    renders.delete(key);
    renderedChars -= hit.html.length + hit.body.length;
  }
  const html = renderComment(body);
  while (renders.size > 0 && (renders.size >= RENDERS_MAX || renderedChars + html.length + body.length > RENDERS_MAX_CHARS)) {
    const [oldest, old] = renders.entries().next().value!;
    renders.delete(oldest);
    renderedChars -= old.html.length + old.body.length;
  }
  renders.set(key, { body, html });
  renderedChars += html.length + body.length;
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

/** One comment row as the conversation reads it (times as epoch milliseconds). */
export interface ConversationRow {
  id: string;
  parent_id: string | null;
  reply_to_id: string | null;
  member_id: string | null;
  staff_user_id: string | null;
  body: string;
  status: string;
  hold_reason: string | null;
  question: boolean;
  answered: boolean;
  created_ms: number;
  edited_ms: number | null;
  member_name: string | null;
  staff_name: string | null;
  remote_handle: string | null;
}

/**
 * What every reader of a post's conversation shares: the published comments (and erased
 * top-level ones, kept as placeholders over their replies) and the reactions to comments,
 * counted. The same for every reader, so a web process may keep it between requests
 * (src/web/conversation-cache.ts) until the post's conversation changes.
 */
export interface SharedConversation {
  rows: ConversationRow[];
  reactions: Array<{ comment_id: string | null; kind: string; n: number }>;
}

/** What is one member's own under a post: their held or hidden comments and their reactions to comments. */
export interface OwnConversation {
  rows: ConversationRow[];
  reactions: Array<{ comment_id: string | null; kind: string }>;
}

function commentRows(db: Kysely<Database>, postId: string) {
  return (
    db
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
      .where('c.post_id', '=', postId)
  );
}

/** The shared part of a post's conversation (see SharedConversation): two queries. */
export async function loadSharedConversation(db: Kysely<Database>, postId: string): Promise<SharedConversation> {
  const rows = await commentRows(db, postId)
    .where((eb) => eb.or([eb('c.status', '=', 'published'), eb.and([eb('c.parent_id', 'is', null), eb('c.status', '=', 'deleted')])]))
    .orderBy('c.created_at')
    .orderBy('c.id')
    .limit(MAX_LOADED)
    .execute();
  const reactions = rows.length
    ? await db
        .selectFrom('reactions')
        .select(['comment_id', 'kind', sql<number>`count(*)::int`.as('n')])
        .where('post_id', '=', postId)
        .where('comment_id', 'is not', null)
        .groupBy(['comment_id', 'kind'])
        .execute()
    : [];
  return { rows, reactions };
}

/**
 * A member's own part of a post's conversation, read for each of their page views: small
 * (their comments and reactions on one post), through the member's own rows.
 */
export async function loadOwnConversation(db: Kysely<Database>, postId: string, memberId: string): Promise<OwnConversation> {
  const head = (await sql<OwnHead>`select ${ownHead(postId, memberId)}`.execute(db)).rows[0];
  return ownFrom(db, postId, memberId, head);
}

/** What one round trip tells of a member's own part: whether they have a held or hidden comment here, and their reactions. */
interface OwnHead {
  own_held: boolean;
  own_reactions: Array<[string, string]>;
}

// Their reactions as one array, and whether they have a held or hidden comment here at all
// (rare); only then are those comments read. Selected beside conversation_meta on a member's page.
function ownHead(postId: string, memberId: string) {
  return sql`exists (
               select 1 from comments
               where post_id = ${postId}::bigint and member_id = ${memberId}::bigint and status in ('held', 'hidden')
             ) as own_held,
             coalesce((
               select json_agg(json_build_array(comment_id::text, kind))
               from reactions
               where post_id = ${postId}::bigint and member_id = ${memberId}::bigint and comment_id is not null
             ), '[]'::json) as own_reactions`;
}

async function ownFrom(db: Kysely<Database>, postId: string, memberId: string, head: OwnHead | undefined): Promise<OwnConversation> {
  const reactions = (head?.own_reactions ?? []).map(([comment_id, kind]) => ({ comment_id, kind }));
  if (!head?.own_held) return { rows: [], reactions };
  const rows = await commentRows(db, postId)
    .where('c.member_id', '=', memberId)
    .where('c.status', 'in', ['held', 'hidden'])
    .orderBy('c.created_at')
    .orderBy('c.id')
    .limit(MAX_LOADED)
    .execute();
  return { rows, reactions };
}

/** The last site settings read with a conversation, as text, and what they parse to (never changed by a reader). */
let lastSite: { text: string; settings: SiteSettings } | undefined;

/**
 * The site settings a conversation shows (its brand and time zone), parsed again only when they
 * changed: validating them on every page view was a few per cent of a member's busy page (the JSON is compared as text).
 */
function siteSettingsOf(value: unknown): SiteSettings {
  const text = JSON.stringify(value);
  if (lastSite?.text === text) return lastSite.settings;
  const site = siteSettingsSchema.safeParse(value);
  const settings = site.success ? site.data : siteSettingsSchema.parse({});
  lastSite = { text, settings };
  return settings;
}

export async function loadConversation(
  db: Kysely<Database>,
  options: {
    post: Omit<ConversationPost, 'comments_mode'>;
    actor: Actor;
    sort: CommentSort;
    shown?: number | undefined;
    /** Where the shared part comes from: a process's cache (src/web/conversation-cache.ts), else the database. */
    shared?: ((postId: string) => Promise<SharedConversation>) | undefined;
    /** Only the thread holding this comment (a comment's own page), whatever page it is on. */
    focus?: string | undefined;
  },
): Promise<ConversationView> {
  const { actor } = options;
  const me = actor.kind === 'member' ? actor.id : null;
  // Every reader of a post page pays for this, so it is one call of a function with cached
  // plans (see migration 0009): the post's rule, both settings rows, the reader's ban, the
  // published count and the post's own reactions. The comments are read only when there is
  // something to show: the shared part (cacheable) and the member's own part. A member's own
  // part (their reactions, whether they have a held comment) is selected in the same statement
  // as the function (needed unless the conversation shows only its count, which is rare): one
  // round trip for both on every signed-in page; their held comments only when they have one.
  const meta = (
    me === null
      ? await sql<Meta>`select * from conversation_meta(${options.post.id}::bigint, null::bigint)`.execute(db)
      : await sql<
          Meta & OwnHead
        >`select m.*, ${ownHead(options.post.id, me)} from conversation_meta(${options.post.id}::bigint, ${me}::bigint) m`.execute(db)
  ).rows[0];
  const post: ConversationPost = { ...options.post, comments_mode: meta?.comments_mode ?? null };
  const settings = siteSettingsOf(meta?.site ?? {});
  const brand = settings.title;
  const access = accessFrom(conversationSettingsFrom(meta?.conversation), post, actor, meta?.banned_until ?? null);
  const notice = access.rights.comment ? null : noCommentMessage(access.rights.reason ?? 'not_allowed', access.bannedUntil);
  const count = meta?.published ?? 0;
  const postReactions = reactionIndex((meta?.post_reactions ?? []).map((r) => ({ ...r, comment_id: null })))(null);
  const base = {
    mode: access.mode,
    rights: access.rights,
    notice,
    bannedUntil: access.bannedUntil,
    sort: options.sort,
    editWindowMinutes: access.settings.editWindowMinutes,
    brand,
    timeZone: settings.timeZone,
    count,
  };
  if (access.rights.read === 'count') return { ...base, threads: [], more: false, postReactions: [] };
  // Nothing published and no held comment of the reader's own to show.
  if (count === 0 && me === null) return { ...base, threads: [], more: false, postReactions };

  const [shared, own] = await Promise.all([
    count === 0 ? { rows: [], reactions: [] } : (options.shared ?? ((id: string) => loadSharedConversation(db, id)))(post.id),
    me === null ? undefined : ownFrom(db, post.id, me, meta as (Meta & OwnHead) | undefined),
  ]);
  const { threads, more } = assembleThreads(shared, own, {
    me,
    brand,
    canComment: access.rights.comment,
    editWindowMinutes: access.settings.editWindowMinutes,
    sort: options.sort,
    shown: options.shown,
    focus: options.focus,
    now: new Date(),
  });
  return { ...base, threads, more, postReactions };
}

/** Reaction counts with the member's own marked, from the shared counts and their own rows. */
function mergedReactions(shared: SharedConversation['reactions'], own: OwnConversation['reactions'] | undefined): Reactions {
  if (!own || own.length === 0) return shared.map((r) => ({ ...r, mine: false }));
  const mine = new Set(own.map((r) => `${r.comment_id ?? ''}:${r.kind}`));
  return shared.map((r) => ({ ...r, mine: mine.has(`${r.comment_id ?? ''}:${r.kind}`) }));
}

/** Rows of both parts in the order they were written (each part is already in that order). */
function mergedRows(shared: ConversationRow[], own: ConversationRow[]): ConversationRow[] {
  if (own.length === 0) return shared;
  return [...shared, ...own].sort((a, b) => a.created_ms - b.created_ms || Number(BigInt(a.id) - BigInt(b.id)));
}

interface AssembleOptions {
  me: string | null;
  brand: string;
  canComment: boolean;
  editWindowMinutes: number;
  sort: CommentSort;
  shown?: number | undefined;
  /** Only the thread holding this comment, instead of the first `shown`. */
  focus?: string | undefined;
  now: Date;
}

/** The thread holding a comment, as a page of one (none when the reader cannot see it). */
function holding(threads: ThreadView[], id: string): { threads: ThreadView[]; more: boolean } {
  const found = threads.find((t) => t.comment.id === id || t.replies.some((r) => r.id === id));
  return { threads: found ? [found] : [], more: false };
}

/**
 * The threads as every reader sees them, in one order, made once per shared part (kept with it,
 * so a process's cached conversation is assembled once per sort, not once per page view).
 */
const prepared = new WeakMap<SharedConversation, Map<string, ThreadView[]>>();

/**
 * Which comment views last between requests (the shared threads above, kept with their shared
 * part), and for a member's copy of one that differs only in which reactions are theirs, the
 * view it copies. The markup of a lasting view is kept per kind of reader (web/comment-html.ts),
 * cut where a reader's own reactions go: a member's page fills those in instead of writing
 * every comment again. Views are never changed once made.
 */
const lasting = new WeakMap<CommentView, CommentView>();

/** The lasting view whose markup shows `view` but for the reader's own reactions, if there is one. */
export function sharedViewOf(view: CommentView): CommentView | undefined {
  return lasting.get(view);
}

function sharedThreads(shared: SharedConversation, brand: string, sort: CommentSort, now: Date): ThreadView[] {
  let bySort = prepared.get(shared);
  if (!bySort) {
    bySort = new Map();
    prepared.set(shared, bySort);
  }
  const key = `${sort}\u0000${brand}`;
  let threads = bySort.get(key);
  if (!threads) {
    threads = buildThreads(shared, undefined, {
      me: null,
      brand,
      canComment: false,
      editWindowMinutes: 0,
      sort,
      now,
      shown: MAX_LOADED,
    }).threads;
    for (const t of threads) {
      lasting.set(t.comment, t.comment);
      for (const r of t.replies) lasting.set(r, r);
    }
    bySort.set(key, threads);
  }
  return threads;
}

/** Each member's published comments in a shared part, by member (made once per shared part). */
const authors = new WeakMap<SharedConversation, Map<string, Map<string, ConversationRow>>>();

function publishedBy(shared: SharedConversation): Map<string, Map<string, ConversationRow>> {
  let byMember = authors.get(shared);
  if (!byMember) {
    byMember = new Map();
    for (const r of shared.rows) {
      if (r.member_id === null || r.status !== 'published') continue;
      const rows = byMember.get(r.member_id);
      if (rows) rows.set(r.id, r);
      else byMember.set(r.member_id, new Map([[r.id, r]]));
    }
    authors.set(shared, byMember);
  }
  return byMember;
}

/**
 * The threads one reader sees, from the shared part and their own. Pure. The shared threads
 * are made once; a member's page copies only the comments that are theirs or that they reacted
 * to. Their held or hidden comments change the threads themselves: those pages take the long way.
 */
export function assembleThreads(
  shared: SharedConversation,
  own: OwnConversation | undefined,
  options: AssembleOptions,
): { threads: ThreadView[]; more: boolean } {
  const shown = Math.min(Math.max(options.shown ?? FIRST_SCREEN, 1), 1_000);
  if (own && own.rows.length > 0) return buildThreads(shared, own, { ...options, shown });
  const all = sharedThreads(shared, options.brand, options.sort, options.now);
  const { threads: page, more } =
    options.focus !== undefined ? holding(all, options.focus) : { threads: all.slice(0, shown), more: all.length > shown };
  const { me } = options;
  if (me === null) return { threads: page, more };
  // Only the comments on this page matter: a member may have reacted to hundreds on a busy post.
  const reacted = new Map<string, Set<string>>();
  if (own && own.reactions.length > 0) {
    const shownIds = new Set<string>();
    for (const t of page) {
      shownIds.add(t.comment.id);
      for (const r of t.replies) shownIds.add(r.id);
    }
    for (const r of own.reactions) {
      if (r.comment_id === null || !shownIds.has(r.comment_id)) continue;
      const kinds = reacted.get(r.comment_id);
      if (kinds) kinds.add(r.kind);
      else reacted.set(r.comment_id, new Set([r.kind]));
    }
  }
  const mine = publishedBy(shared).get(me);
  if (reacted.size === 0 && mine === undefined) return { threads: page, more };
  const overlay = (v: CommentView): CommentView => {
    const row = mine?.get(v.id);
    const kinds = reacted.get(v.id);
    if (!row && !kinds) return v;
    const copy: CommentView = {
      ...v,
      mine: row !== undefined,
      canEdit: row !== undefined && options.canComment && withinEditWindow(v.createdAt, options.now, options.editWindowMinutes),
      source: row?.body ?? '',
      reactions: kinds ? v.reactions.map((r) => (kinds.has(r.kind) ? { ...r, mine: true } : r)) : v.reactions,
    };
    // Only the reactions pressed differ from the shared view (not their own comment): its markup serves.
    if (!row) lasting.set(copy, v);
    return copy;
  };
  return { threads: page.map((t) => ({ comment: overlay(t.comment), replies: t.replies.map(overlay) })), more };
}

/** The threads one reader sees, assembled from every row (their held comments among them). */
function buildThreads(
  shared: SharedConversation,
  own: OwnConversation | undefined,
  options: AssembleOptions,
): { threads: ThreadView[]; more: boolean } {
  const { me, brand, now } = options;
  const rows = mergedRows(shared.rows, own?.rows ?? []);
  const reactionsOf = reactionIndex(mergedReactions(shared.reactions, own?.reactions));
  const names = new Map(
    // A member without a name is '' here: the page says "A member" in its language.
    rows.map((r) => [r.id, r.staff_user_id ? r.staff_name || brand : (r.remote_handle ?? (r.member_name || ''))]),
  );
  const views = rows.map((r): CommentView => {
    const removed = r.status === 'deleted';
    const mine = me !== null && r.member_id === me;
    const createdAt = new Date(r.created_ms);
    return {
      id: r.id,
      parentId: r.parent_id,
      html: removed ? '' : rendered(r.id, r.edited_ms, r.body),
      author: removed ? '' : (names.get(r.id) ?? ''),
      byStaff: r.staff_user_id !== null,
      fediverseServer: r.remote_handle ? (r.remote_handle.split('@').at(-1) ?? null) : null,
      mine: mine && !removed,
      state: removed ? 'removed' : (r.status as 'published' | 'held' | 'hidden'),
      holdReason: r.status === 'held' ? (r.hold_reason as HoldReason | null) : null,
      question: r.question && !removed,
      answered: r.answered,
      edited: r.edited_ms !== null,
      editedMs: r.edited_ms,
      createdAt,
      canEdit:
        mine && !removed && r.status !== 'hidden' && options.canComment && withinEditWindow(createdAt, now, options.editWindowMinutes),
      source: mine && !removed ? r.body : '',
      replyingTo: r.reply_to_id && r.reply_to_id !== r.parent_id ? (names.get(r.reply_to_id) ?? null) : null,
      reactions: reactionsOf(r.id),
    };
  });

  const repliesOf = new Map<string, CommentView[]>();
  for (const v of views) {
    if (!v.parentId) continue;
    const list = repliesOf.get(v.parentId);
    if (list) list.push(v);
    else repliesOf.set(v.parentId, [v]);
  }
  const threads = views
    .filter((v) => v.parentId === null)
    .map((comment) => ({ comment, replies: orderReplies(repliesOf.get(comment.id) ?? [], comment.question) }))
    // A removed comment stays only as the head of replies that are still there.
    .filter((t) => t.comment.state !== 'removed' || t.replies.length > 0)
    .map((t) => ({
      id: t.comment.id,
      createdAt: t.comment.createdAt,
      reactions: t.comment.reactions.reduce((n, r) => n + r.count, 0),
      replies: t.replies.filter((r) => r.state === 'published').length,
      staffReplied: t.replies.some((r) => r.byStaff && r.state === 'published'),
      thread: t,
    }));
  const sorted = sortThreads(threads, options.sort);
  if (options.focus !== undefined)
    return holding(
      sorted.map((s) => s.thread),
      options.focus,
    );
  const shown = Math.min(Math.max(options.shown ?? FIRST_SCREEN, 1), MAX_LOADED);
  return { threads: sorted.slice(0, shown).map((s) => s.thread), more: sorted.length > shown };
}
