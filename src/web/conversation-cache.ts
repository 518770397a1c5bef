import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { loadSharedConversation, type SharedConversation } from '../domain/community/conversation.ts';
import { findPublishedPost, type PublishedPost } from '../domain/content/posts.ts';
import { alternatesAt, postFamily, type Alternate, type FamilyMember } from '../domain/content/translations.ts';
import { getSiteSettings, type SiteSettings } from '../domain/site/settings.ts';

/**
 * The shared part of busy conversations, kept in each web process (loadConversation's
 * `shared`): a signed-in page of a post with 600 comments then reads only the member's own rows
 * (their reactions, their held comments) instead of every comment and every reaction.
 *
 * Kept exactly as long as the page cache's (page-cache.ts): only while its LISTEN connection is
 * up (`setConversationCacheOn`), dropped for a post on `post:<id>` (a comment or reaction, from
 * any process), by slug at once for a write this process answered, and all of it on any other
 * change. A load that was under way when its post changed is not kept: its entry is gone, and
 * only readers who asked before the change get it. Bounded by posts and by rows, least recently
 * used first out.
 */

const MAX_POSTS = 200;
const MAX_ROWS = 100_000;

interface Entry {
  slug: string;
  shared: Promise<SharedConversation>;
  rows: number;
}

interface State {
  on: boolean;
  entries: Map<string, Entry>;
  rows: number;
  counts: { hits: number; loads: number };
  /** The site settings every page reads (a `settings` write empties it, like any change but a conversation's). */
  settings?: Promise<SiteSettings> | undefined;
  /** Published posts by slug, only those found (a post not yet out is asked again each time). */
  posts: Map<string, Promise<PublishedPost | undefined>>;
  /** Each kept post's family of translations, scheduled ones with their time (by post id). */
  families: Map<string, Promise<FamilyMember[]>>;
}

const MAX_SLUGS = 1_000;

const KEY = Symbol.for('hearth.conversation-cache');
type Holder = { [KEY]?: State };

function state(): State {
  const holder = globalThis as Holder;
  holder[KEY] ??= { on: false, entries: new Map(), rows: 0, counts: { hits: 0, loads: 0 }, posts: new Map(), families: new Map() };
  holder[KEY].posts ??= new Map();
  holder[KEY].families ??= new Map();
  return holder[KEY];
}

function drop(s: State, postId: string): void {
  const entry = s.entries.get(postId);
  if (!entry) return;
  s.entries.delete(postId);
  s.rows -= entry.rows;
}

export function setConversationCacheOn(on: boolean): void {
  const s = state();
  s.on = on;
  if (!on) forgetConversations();
}

export function forgetConversations(): void {
  const s = state();
  s.entries.clear();
  s.rows = 0;
  s.settings = undefined;
  s.posts.clear();
  s.families.clear();
}

/**
 * The site settings, from memory while the cache is on: every page reads them (one query a
 * request before). Dropped with everything else on any change but a conversation's (a
 * `settings` write notifies, and this process's own writes empty it before they answer).
 */
export function cachedSiteSettings(db: Kysely<Database>): Promise<SiteSettings> {
  const s = state();
  if (!s.on) return getSiteSettings(db);
  if (s.settings) return s.settings;
  const loading = getSiteSettings(db);
  s.settings = loading;
  loading.catch(() => {
    if (s.settings === loading) s.settings = undefined;
  });
  return loading;
}

/**
 * A published post by slug, from memory while the cache is on. Only a post found is kept: once
 * out it stays out until a `posts` write (which empties everything), while one not out yet
 * (scheduled for later) can come out with no write, so it is asked for again. What a reader may
 * read of it is still decided per request (postForViewer).
 */
export function cachedPublishedPost(db: Kysely<Database>, slug: string): Promise<PublishedPost | undefined> {
  const s = state();
  if (!s.on) return findPublishedPost(db, slug);
  const found = s.posts.get(slug);
  if (found) return found;
  const loading = findPublishedPost(db, slug);
  if (s.posts.size >= MAX_SLUGS) s.posts.delete(s.posts.keys().next().value!);
  s.posts.set(slug, loading);
  loading.then(
    (post) => {
      if (!post && s.posts.get(slug) === loading) s.posts.delete(slug);
    },
    () => {
      if (s.posts.get(slug) === loading) s.posts.delete(slug);
    },
  );
  return loading;
}

/**
 * A post's `hreflang` alternates (content/translations.ts), from memory while the cache is on:
 * the family's versions are kept with their publication times, emptied like the posts (any
 * `posts` write), and which of them are out is decided per request, so a scheduled translation
 * still comes out on time with no write.
 */
export async function cachedPostAlternates(
  db: Kysely<Database>,
  post: { id: string; translation_of: string | null },
  siteLanguage: string,
): Promise<Alternate[]> {
  const s = state();
  if (!s.on) return alternatesAt(await postFamily(db, post), Date.now(), siteLanguage);
  let family = s.families.get(post.id);
  if (!family) {
    const loading = postFamily(db, post);
    family = loading;
    if (s.families.size >= MAX_SLUGS) s.families.delete(s.families.keys().next().value!);
    s.families.set(post.id, loading);
    loading.catch(() => {
      if (s.families.get(post.id) === loading) s.families.delete(post.id);
    });
  }
  return alternatesAt(await family, Date.now(), siteLanguage);
}

export function forgetConversation(postId: string): void {
  drop(state(), postId);
}

export function forgetConversationBySlug(slug: string): void {
  const s = state();
  for (const [id, entry] of s.entries) if (entry.slug === slug) drop(s, id);
}

export function conversationCacheStats(): { on: boolean; posts: number; rows: number; hits: number; loads: number } {
  const s = state();
  return { on: s.on, posts: s.entries.size, rows: s.rows, ...s.counts };
}

/** The loader for loadConversation's `shared`, for one post: from memory when it may be. */
export function cachedSharedConversation(db: Kysely<Database>, slug: string): (postId: string) => Promise<SharedConversation> {
  return (postId) => {
    const s = state();
    if (!s.on) return loadSharedConversation(db, postId);
    const found = s.entries.get(postId);
    if (found) {
      s.counts.hits++;
      s.entries.delete(postId);
      s.entries.set(postId, found);
      return found.shared;
    }
    s.counts.loads++;
    const entry: Entry = { slug, shared: loadSharedConversation(db, postId), rows: 0 };
    s.entries.set(postId, entry);
    entry.shared.then(
      (shared) => {
        if (s.entries.get(postId) !== entry) return;
        entry.rows = shared.rows.length + shared.reactions.length;
        s.rows += entry.rows;
        for (const [id] of s.entries) {
          if (s.entries.size <= MAX_POSTS && s.rows <= MAX_ROWS) break;
          drop(s, id);
        }
      },
      () => {
        if (s.entries.get(postId) === entry) drop(s, postId);
      },
    );
    return entry.shared;
  };
}
