import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import { ANONYMOUS } from '../domain/content/access.ts';
import { externalReferrerHost } from '../domain/members/sources.ts';
import { MEMBER_COOKIE } from '../domain/membership/sessions.ts';
import { SESSION_COOKIE } from '../domain/staff/sessions.ts';
import { recordPostView } from '../domain/tracking/record.ts';
import { createEventWriter, type EventWriter } from '../lib/event-writer.ts';
import { listenOnChannel, type ChannelListener } from '../lib/notify-listener.ts';
import { getRuntime, type Runtime } from '../lib/runtime.ts';
import { forgetConversation, forgetConversations, forgetConversationBySlug, setConversationCacheOn } from './conversation-cache.ts';

/**
 * The anonymous page cache. Pages that are the same for every reader without a session (home,
 * archive, tags, posts with their anonymous conversation, join and links pages, RSS, sitemap)
 * are rendered once per process and answered from memory until something they show changes.
 *
 * Invalidation: Postgres triggers (migration 0056) NOTIFY `hearth_pages` at the commit of any
 * statement on what these pages read, whoever writes; every web process LISTENs and empties its
 * cache. A comment or a reaction says which post (`post:<id>`, migration 0076): only that post's
 * pages go (every query string of `/posts/<slug>`), with the post's kept conversation
 * (conversation-cache.ts); the list pages show no comment or reaction counts and stay. Chosen over a version row read per request: a hit then costs no database round trip
 * (a version read was ~0.2 ms plus a pool slot at 64 connections, more than the whole hit), and
 * the writers need no change. Safety: while the LISTEN connection is down (not yet up, lost,
 * reconnecting) nothing is served from or put in the cache; a render that began before an
 * invalidation is not kept (generation check); a write served by this process empties its own
 * cache before the answer leaves, so "change, then reload" is exact on one process; other
 * processes follow within the notification's delivery (milliseconds).
 *
 * Gating: only a request with no session cookie at all may be answered from the cache, and only
 * such a request's render is stored: the cache holds what anonymous readers may read, nothing
 * more. A post turned from public to paid is a posts update: every process drops its copy.
 *
 * Bounded: at most PAGE_CACHE_BYTES of bodies, least recently used first out; a page larger than
 * a sixteenth of that is never kept. The whole cache lives on globalThis so that Hearth's server
 * (src/server.ts, which answers hits before the Astro app) and the built app share one copy.
 */

export const PAGE_CACHE_BYTES = 64 * 1024 * 1024;
const CHANNEL = 'hearth_pages';

/**
 * What a CDN may do with an anonymous page: keep it shortly and revalidate (ETag) after. Browsers
 * revalidate every time (max-age=0), so a change shows at the next load. A shared cache may keep
 * a copy up to s-maxage (+ stale-while-revalidate while it refetches): the bound on how long a
 * CDN in front may show a post that was just turned paid. Vary: Cookie keeps signed-in readers
 * (whose answers are private, no-store) apart.
 */
export const PAGE_CACHE_CONTROL = 'public, max-age=0, s-maxage=10, stale-while-revalidate=30';

export interface CachedPage {
  headers: Array<[string, string]>;
  body: Buffer;
  etag: string;
  /** An HTTP date, whole seconds. */
  lastModified: string;
  lastModifiedMs: number;
  /** The post shown, so an answer from the cache still counts an anonymous view (and a change of its conversation drops the page). */
  postId: string | undefined;
  /** The last change (ms) this copy could have missed before it was made: If-Modified-Since is trusted only after it. */
  changedAt: number;
  /** The headers of a 200 from the cache, as Node's flat [name, value, …] list, made once. */
  raw?: string[];
}

interface CacheState {
  entries: Map<string, CachedPage>;
  bytes: number;
  capBytes: number;
  /** Bumped by every invalidation: a render that began in an older generation is not kept. */
  generation: number;
  /** True while the LISTEN connection is up: only then is the cache used. */
  listening: boolean;
  /** When the cache was last emptied (ms): If-Modified-Since is only trusted before it. */
  lastInvalidation: number;
  /** Bumped by every invalidation, whole or of one post: a render keeps the value it began with. */
  seq: number;
  /** Posts whose pages were dropped since the cache was last emptied: when (seq, ms). */
  postChanges: Map<string, { seq: number; at: number }>;
  /** The same, by path, for a write this process answered (it knows the slug, not the id). */
  pathChanges: Map<string, { seq: number; at: number }>;
  listener: ChannelListener | undefined;
  /** The site's host name (the referrer check), read once. */
  siteHost: string | undefined;
  /**
   * Views of pages from the cache, written in groups every quarter second: no reader waits for
   * them (unlike a tracking pixel's), so a busy page makes a few inserts a second, not hundreds.
   */
  views: EventWriter | undefined;
  /** Renders under way, by key: readers arriving meanwhile wait for them. */
  rendering: Map<string, { generation: number; entry: Promise<CachedPage | undefined> }>;
  counts: { hits: number; misses: number; stored: number; invalidations: number; postInvalidations: number; evicted: number };
}

const KEY = Symbol.for('hearth.page-cache');
type Holder = { [KEY]?: CacheState };

function state(): CacheState {
  const holder = globalThis as Holder;
  holder[KEY] ??= {
    entries: new Map(),
    bytes: 0,
    capBytes: PAGE_CACHE_BYTES,
    generation: 0,
    listening: false,
    lastInvalidation: Date.now(),
    seq: 0,
    postChanges: new Map(),
    pathChanges: new Map(),
    listener: undefined,
    siteHost: undefined,
    views: undefined,
    rendering: new Map(),
    counts: { hits: 0, misses: 0, stored: 0, invalidations: 0, postInvalidations: 0, evicted: 0 },
  };
  return holder[KEY];
}

/** Empties this process's cache (a notification, a local write, a lost listener). */
export function invalidatePages(): void {
  const s = state();
  s.entries.clear();
  s.bytes = 0;
  s.generation++;
  s.seq++;
  s.postChanges.clear();
  s.pathChanges.clear();
  s.lastInvalidation = Date.now();
  s.counts.invalidations++;
  forgetConversations();
}

/** At most this many posts are remembered as changed between two whole invalidations. */
const CHANGES_MAX = 10_000;

function dropEntries(s: CacheState, drop: (key: string, entry: CachedPage) => boolean): void {
  for (const [key, entry] of s.entries) {
    if (!drop(key, entry)) continue;
    s.entries.delete(key);
    s.bytes -= entry.body.byteLength + key.length;
  }
  // Readers waiting for a render that began before the change would get the old page: the
  // next ones render afresh (those already waiting asked before the change).
  s.rendering.clear();
}

/** Drops one post's pages (its conversation changed): a notification `post:<id>`. */
export function invalidatePost(postId: string): void {
  const s = state();
  if (s.postChanges.size >= CHANGES_MAX) return invalidatePages();
  s.postChanges.set(postId, { seq: ++s.seq, at: Date.now() });
  s.counts.postInvalidations++;
  dropEntries(s, (_key, entry) => entry.postId === postId);
  forgetConversation(postId);
}

/** Drops the pages of `/posts/<slug>` (a conversation write this process answered, before its answer leaves). */
export function invalidatePostPath(slug: string): void {
  const s = state();
  if (s.pathChanges.size >= CHANGES_MAX) return invalidatePages();
  const path = `/posts/${slug}`;
  s.pathChanges.set(path, { seq: ++s.seq, at: Date.now() });
  s.counts.postInvalidations++;
  dropEntries(s, (key) => pathOf(key) === path);
  forgetConversationBySlug(slug);
}

const pathOf = (key: string) => key.split(/[?\n]/, 1)[0]!;

/** What a notification on `hearth_pages` drops: one post's pages, or all. */
export function pagesNotified(payload: string): void {
  const post = /^post:(\d+)$/.exec(payload);
  if (post) invalidatePost(post[1]!);
  else invalidatePages();
}

/** Starts this process's LISTEN connection (once); until it is up the cache stays unused. */
export function startPageCache(runtime: Pick<Runtime, 'pool'>): void {
  const s = state();
  if (s.listener || !runtime.pool || s.capBytes <= 0) return;
  s.listener = listenOnChannel(runtime.pool.options as pg.ClientConfig, CHANNEL, {
    notified: pagesNotified,
    up: () => {
      invalidatePages();
      s.listening = true;
      setConversationCacheOn(true);
    },
    down: () => {
      s.listening = false;
      setConversationCacheOn(false);
      invalidatePages();
    },
  });
}

export async function stopPageCache(): Promise<void> {
  const s = state();
  const listener = s.listener;
  s.listener = undefined;
  await listener?.stop();
  await s.views?.flush();
}

/** Sets the byte cap (tests, the soak benchmark); 0 turns the cache off. */
export function setPageCacheCap(bytes: number): void {
  const s = state();
  s.capBytes = bytes;
  evictOver(s, bytes);
}

export function pageCacheStats(): { entries: number; bytes: number; capBytes: number; listening: boolean } & CacheState['counts'] {
  const s = state();
  return { entries: s.entries.size, bytes: s.bytes, capBytes: s.capBytes, listening: s.listening, ...s.counts };
}

function evictOver(s: CacheState, cap: number): void {
  for (const [key, entry] of s.entries) {
    if (s.bytes <= cap) break;
    s.entries.delete(key);
    s.bytes -= entry.body.byteLength + key.length;
    s.counts.evicted++;
  }
}

// ---------------------------------------------------------------------------------------------
// Which requests: the page set, and the reader without a session.

const PAGE = /^\/(?:|posts|posts\/[^/]+|tags\/[^/]+|join|join\/[^/]+|links|rss\.xml|sitemap\.xml)$/;
/** Pages that put the reader's external referrer in their subscribe form: keyed by it too. */
const BY_REFERRER = /^\/(?:join|join\/[^/]+|links)$/;
const SESSION = new RegExp(`(?:^|;)\\s*(?:${MEMBER_COOKIE}|${SESSION_COOKIE})=[^;\\s]`);

export function isCachedPagePath(pathname: string): boolean {
  return PAGE.test(pathname);
}

export function hasSessionCookie(cookie: string | null | undefined): boolean {
  return !!cookie && SESSION.test(cookie);
}

/**
 * The cache key of a request, or undefined when it must not touch the cache: not GET/HEAD, not
 * one of the pages, a session cookie (any: even an expired one is a member's browser), an odd URL.
 */
export function pageCacheKey(
  method: string,
  pathname: string,
  search: string,
  headers: { cookie: string | null | undefined; referer: string | null | undefined },
  siteHost: string,
): string | undefined {
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (!PAGE.test(pathname) || pathname.length + search.length > 1_024) return undefined;
  if (hasSessionCookie(headers.cookie)) return undefined;
  let key = pathname + search;
  if (BY_REFERRER.test(pathname) && externalReferrerHost(headers.referer, siteHost)) key += `\n${headers.referer!.slice(0, 500)}`;
  return key;
}

function lookup(key: string): CachedPage | undefined {
  const s = state();
  if (!s.listening) return undefined;
  const entry = s.entries.get(key);
  if (!entry) return undefined;
  // Least recently used goes first: a hit moves to the end of the Map's order.
  s.entries.delete(key);
  s.entries.set(key, entry);
  return entry;
}

const DROPPED = new Set([
  'set-cookie',
  'cache-control',
  'date',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'etag',
  'last-modified',
  'vary',
]);

/** Whether an answer may be kept, from its status and headers (a private or cookie-setting answer never is). */
function mayKeep(response: Response): boolean {
  if (response.status !== 200 || response.headers.has('set-cookie')) return false;
  return !/private|no-store|no-cache/.test(response.headers.get('cache-control') ?? '');
}

/** The entry for a rendered page's headers and body. */
export function pageEntry(headersIn: Headers, body: Buffer, pathname: string, postId: string | undefined, now = Date.now()): CachedPage {
  const headers: Array<[string, string]> = [];
  headersIn.forEach((value, name) => {
    if (!DROPPED.has(name)) headers.push([name, value]);
  });
  const lastModifiedMs = Math.floor(now / 1000) * 1000;
  const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 22)}"`;
  const lastModified = new Date(lastModifiedMs).toUTCString();
  headers.push(
    ['cache-control', PAGE_CACHE_CONTROL],
    ['vary', BY_REFERRER.test(pathname) ? 'Cookie, Referer' : 'Cookie'],
    ['etag', etag],
    ['last-modified', lastModified],
  );
  return { headers, body, etag, lastModified, lastModifiedMs, postId, changedAt: state().lastInvalidation };
}

function store(key: string, start: { generation: number; seq: number }, entry: CachedPage): void {
  const s = state();
  // Something changed while this page was rendering: what it read may be older than the change.
  if (start.generation !== s.generation || !s.listening) return;
  const post = entry.postId === undefined ? undefined : s.postChanges.get(entry.postId);
  const path = s.pathChanges.get(pathOf(key));
  if ((post && post.seq > start.seq) || (path && path.seq > start.seq)) return;
  entry.changedAt = Math.max(s.lastInvalidation, post?.at ?? 0, path?.at ?? 0);
  const old = s.entries.get(key);
  if (old) s.bytes -= old.body.byteLength + key.length;
  s.entries.delete(key);
  s.entries.set(key, entry);
  s.bytes += entry.body.byteLength + key.length;
  s.counts.stored++;
  evictOver(s, s.capBytes);
}

/**
 * 304 when the reader already has this copy. If-None-Match wins (RFC 9110 §13.2.2). A date is
 * trusted only when the cache was not emptied since that second began: Last-Modified has whole
 * seconds, and two versions of a page can fall in the same second.
 */
export function notModified(
  entry: CachedPage,
  ifNoneMatch: string | null | undefined,
  ifModifiedSince: string | null | undefined,
): boolean {
  if (ifNoneMatch) {
    return ifNoneMatch
      .split(',')
      .map((t) => t.trim().replace(/^W\//, ''))
      .some((t) => t === entry.etag || t === '*');
  }
  if (!ifModifiedSince) return false;
  const since = Date.parse(ifModifiedSince);
  if (Number.isNaN(since)) return false;
  return entry.lastModifiedMs <= since && entry.changedAt < since;
}

function countView(entry: CachedPage, method: string, userAgent: string | undefined): void {
  if (!entry.postId) return;
  const s = state();
  const { db } = getRuntime();
  s.views ??= createEventWriter(db, { maxWaitMs: 250 });
  void recordPostView(db, s.views, entry.postId, { viewer: ANONYMOUS }, { method, userAgent }).catch(() => undefined);
}

function siteHost(): string {
  const s = state();
  s.siteHost ??= new URL(getRuntime().config.siteUrl).hostname;
  return s.siteHost;
}

function answerHeaders(entry: CachedPage, status: 'hit' | 'miss'): Headers {
  const headers = new Headers(entry.headers);
  headers.set('x-hearth-cache', status);
  return headers;
}

// ---------------------------------------------------------------------------------------------
// The two hooks: the middleware (fills, and answers when it is reached) and Hearth's own server
// (answers hits before the Astro app: routing, middleware and a Response cost more than the hit).

const CONVERSATION_WRITE = /^\/posts\/([^/]+)\/(?:comments|reactions)(?:\/[^/]+)?$/;

/** Paths whose writes show on the cached pages: a write answered here empties this process's cache at once. */
const WRITES_PAGES = /^\/(?:admin|api|posts|polls|ap|account)(?:\/|$)/;

/**
 * Astro's `next`, emptying this process's cache once a write that may show on the pages has been
 * handled (before its answer leaves): "change, then reload" is exact on the process that wrote.
 */
export function invalidatingAfterWrites<Args extends unknown[]>(
  method: string,
  pathname: string,
  next: (...args: Args) => Promise<Response>,
): (...args: Args) => Promise<Response> {
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || !WRITES_PAGES.test(pathname)) return next;
  // A member's comment, edit, report or reaction shows on that post's page only.
  const conversation = CONVERSATION_WRITE.exec(pathname);
  return async (...args) => {
    try {
      return await next(...args);
    } finally {
      if (conversation) invalidatePostPath(conversation[1]!);
      else invalidatePages();
    }
  };
}

export async function withPageCache(request: Request, url: URL, locals: App.Locals, render: () => Promise<Response>): Promise<Response> {
  const method = request.method.toUpperCase();
  const runtime = locals.runtime;
  startPageCache(runtime);
  const key = pageCacheKey(
    method,
    url.pathname,
    url.search,
    { cookie: request.headers.get('cookie'), referer: request.headers.get('referer') },
    siteHost(),
  );
  if (key === undefined) {
    const response = await render();
    // A signed-in reader's copy of a shared page is theirs alone.
    if (isCachedPagePath(url.pathname) && !response.headers.has('cache-control'))
      response.headers.set('cache-control', 'private, no-store');
    return response;
  }
  const s = state();
  const hit = lookup(key);
  if (hit) {
    s.counts.hits++;
    countView(hit, method, request.headers.get('user-agent') ?? undefined);
    return answer(hit, request, method, 'hit');
  }
  // The first reader after a change renders; those arriving meanwhile wait for that render
  // rather than each rendering the same page (a busy post takes tens of milliseconds).
  const pending = s.listening ? s.rendering.get(key) : undefined;
  if (pending && pending.generation === s.generation) {
    const entry = await pending.entry;
    if (entry) {
      s.counts.hits++;
      countView(entry, method, request.headers.get('user-agent') ?? undefined);
      return answer(entry, request, method, 'hit');
    }
    return render();
  }
  // A HEAD answer's body may be left out by the app: only a GET's render is kept.
  if (method === 'HEAD') return render();
  s.counts.misses++;
  const start = { generation: s.generation, seq: s.seq };
  let settle: (entry: CachedPage | undefined) => void = () => undefined;
  const mine = { generation: start.generation, entry: new Promise<CachedPage | undefined>((r) => (settle = r)) };
  if (s.listening) s.rendering.set(key, mine);
  try {
    const response = await render();
    if (!mayKeep(response)) {
      settle(undefined);
      return response;
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (body.byteLength > s.capBytes / 16) {
      settle(undefined);
      return new Response(new Uint8Array(body), response);
    }
    const entry = pageEntry(response.headers, body, url.pathname, locals.pagePostId);
    store(key, start, entry);
    settle(entry);
    return answer(entry, request, method, 'miss');
  } catch (err) {
    settle(undefined);
    throw err;
  } finally {
    if (s.rendering.get(key) === mine) s.rendering.delete(key);
  }
}

function answer(entry: CachedPage, request: Request, method: string, status: 'hit' | 'miss'): Response {
  const headers = answerHeaders(entry, status);
  if (notModified(entry, request.headers.get('if-none-match'), request.headers.get('if-modified-since'))) {
    return new Response(null, { status: 304, headers });
  }
  headers.set('content-length', String(entry.body.byteLength));
  return new Response(method === 'HEAD' ? null : new Uint8Array(entry.body), { status: 200, headers });
}

const requestHeaders = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

/**
 * Hearth's server asks this first: true when the request was answered from the cache. Misses,
 * bypasses and everything else go on to the Astro app (which fills the cache).
 */
export function answerFromPageCache(req: IncomingMessage, res: ServerResponse): boolean {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') return false;
  const s = state();
  if (!s.listening || s.entries.size === 0) return false;
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const pathname = q === -1 ? raw : raw.slice(0, q);
  // The app sees a decoded, normalised path; anything unusual goes the long way.
  if (!PAGE.test(pathname) || pathname.includes('%') || pathname.includes('//')) return false;
  const h = req.headers;
  const key = pageCacheKey(method, pathname, q === -1 ? '' : raw.slice(q), { cookie: h.cookie, referer: h.referer }, siteHost());
  const entry = key === undefined ? undefined : lookup(key);
  if (!entry) return false;
  s.counts.hits++;
  countView(entry, method, h['user-agent']);
  if (notModified(entry, requestHeaders(h, 'if-none-match'), h['if-modified-since'])) {
    const headers: Record<string, string> = Object.fromEntries(entry.headers);
    headers['x-hearth-cache'] = 'hit';
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  entry.raw ??= [...entry.headers.flat(), 'x-hearth-cache', 'hit', 'content-length', String(entry.body.byteLength)];
  res.writeHead(200, entry.raw);
  res.end(method === 'HEAD' ? undefined : entry.body);
  return true;
}
