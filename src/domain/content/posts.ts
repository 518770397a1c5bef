import { sql, type Kysely } from 'kysely';
import type { Database, Post } from '../../../db/types.ts';
import { decodeKeyset, keysetPage } from '../../lib/keyset.ts';
import { callToAction, canRead, type Viewer } from './access.ts';
import { markdownToText, renderMarkdown, splitAtCut } from './markdown.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Published posts as readers get them. Every surface goes through `postForViewer`, which is the
 * only place a post's body is turned into HTML: a reader who may not read the post gets the
 * preview (what stands above the cut) and never a byte of the rest.
 */
export type PublishedPost = Pick<
  Post,
  'id' | 'slug' | 'title' | 'excerpt' | 'markdown' | 'visibility' | 'published_at' | 'updated_at' | 'tags' | 'tier_ids' | 'feature_image'
> &
  /** Read by the post page (translations.ts); other surfaces may leave them out. */
  Partial<Pick<Post, 'language' | 'translation_of'>>;

const COLUMNS = [
  'id',
  'slug',
  'title',
  'excerpt',
  'markdown',
  'visibility',
  'published_at',
  'updated_at',
  'tags',
  'tier_ids',
  'feature_image',
  'language',
  'translation_of',
] as const;

export async function findPublishedPost(db: Kysely<Database>, slug: string): Promise<PublishedPost | undefined> {
  if (slug.length > 200) return undefined;
  return db
    .selectFrom('posts')
    .select(COLUMNS)
    .where('slug', '=', slug)
    .where('status', 'in', ['published', 'scheduled'])
    .where('email_only', '=', false)
    .where('published_at', '<=', dbNow())
    .executeTakeFirst();
}

/** Newest first, by keyset on (published_at, id); optionally only posts with a tag. */
export async function listPublished(
  db: Kysely<Database>,
  options: { limit: number; after?: string | undefined; tag?: string | undefined },
) {
  const cursor = decodeKeyset(options.after, ['date', 'id']);
  const rows = await db
    .selectFrom('posts')
    .select(COLUMNS)
    .where('status', 'in', ['published', 'scheduled'])
    .where('email_only', '=', false)
    .where('published_at', '<=', dbNow())
    .$if(cursor !== undefined, (q) => q.where(sql<boolean>`(published_at, id) < (${cursor![0]}::timestamptz, ${cursor![1]}::bigint)`))
    .$if(options.tag !== undefined, (q) => q.where(sql<boolean>`tags @> array[${options.tag!.toLowerCase()}]::text[]`))
    .orderBy('published_at', 'desc')
    .orderBy('id', 'desc')
    .limit(options.limit + 1)
    .execute();
  // published_at is written from JavaScript (milliseconds), so its ISO string is the exact key.
  const { page, next } = keysetPage(rows, options.limit, (last) => [last.published_at!.toISOString(), last.id]);
  return { posts: page, next };
}

interface Rendered {
  previewHtml: string;
  fullHtml: string;
  previewText: string;
  /** The text of the preview, or of the whole post when it has no cut (public posts only). */
  summaryText: string;
}

// Rendering is pure and posts change rarely: keep the last few hundred renders, keyed by the
// post's id and last update, so a busy post page renders its Markdown once.
const cache = new Map<string, Rendered>();
const CACHE_SIZE = 500;
/** And at most this many characters of HTML and text in all (500 long posts would hold ~100 MB). */
const CACHE_CHARS = 16_000_000;
let cachedChars = 0;
const charsOf = (r: Rendered) => r.previewHtml.length + r.fullHtml.length + r.previewText.length + r.summaryText.length;

function rendered(post: PublishedPost): Rendered {
  const key = `${post.id}:${post.updated_at.getTime()}`;
  const hit = cache.get(key);
  if (hit) return hit;
  // A {{referral}} line is for emails and the page's invitation, never a description.
  const parts = splitAtCut(post.markdown);
  const textOf = (md: string) => markdownToText(md.replace(/^\{\{(referral|poll:\d+)\}\}$/gm, ''));
  const value: Rendered = {
    previewHtml: parts.hasCut ? webReferral(renderMarkdown(parts.preview)) : '',
    fullHtml: webReferral(renderMarkdown(parts.hasCut ? `${parts.preview}\n\n${parts.rest}` : parts.rest)),
    previewText: parts.hasCut ? textOf(parts.preview) : '',
    summaryText: textOf(parts.hasCut ? parts.preview : parts.rest),
  };
  while (cache.size > 0 && (cache.size >= CACHE_SIZE || cachedChars + charsOf(value) > CACHE_CHARS)) {
    const [oldest, old] = cache.entries().next().value!;
    cache.delete(oldest);
    cachedChars -= charsOf(old);
  }
  cache.set(key, value);
  cachedChars += charsOf(value);
  return value;
}

export interface PostView {
  id: string;
  slug: string;
  title: string;
  visibility: PublishedPost['visibility'];
  publishedAt: Date | null;
  tags: string[];
  featureImage: string | null;
  /** The body this viewer may see: all of it, or only the preview. */
  html: string;
  gated: boolean;
  callToAction: 'subscribe' | 'upgrade' | null;
  /** A public description (staff's excerpt, else the public preview's text): safe for any surface. */
  description: string;
}

/**
 * On the web, a post's {{referral}} line invites members to their own link in the account, and a
 * {{poll:<id>}} line becomes a link to the poll's page, which the post page replaces with the live
 * poll (web/poll-html.ts). Both are in the gated HTML only where the Markdown put them: a poll below
 * the cut never reaches a reader who gets the preview.
 */
function webReferral(html: string): string {
  return html
    .replace(
      /<p>\{\{referral\}\}<\/p>/g,
      '<p class="referral-invite">Know someone who would enjoy this? <a href="/account">Share your own referral link</a> from your account.</p>',
    )
    .replace(/<p>\{\{poll:(\d{1,18})\}\}<\/p>/g, '<p class="poll-link" data-poll="$1"><a href="/polls/$1">Answer the poll</a></p>');
}

export function postForViewer(post: PublishedPost, viewer: Viewer): PostView {
  const r = rendered(post);
  const gate = { visibility: post.visibility, tierIds: post.tier_ids };
  const allowed = canRead(viewer, gate);
  const publicText = post.visibility === 'public' ? r.summaryText : r.previewText;
  return {
    id: post.id,
    slug: post.slug,
    title: post.title,
    visibility: post.visibility,
    publishedAt: post.published_at,
    tags: post.tags,
    featureImage: post.feature_image,
    html: allowed ? r.fullHtml : r.previewHtml,
    gated: !allowed,
    callToAction: callToAction(viewer, gate),
    description: post.excerpt || publicText,
  };
}
