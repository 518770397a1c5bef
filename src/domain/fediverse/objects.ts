import { Temporal } from '@js-temporal/polyfill';
import { Article, Hashtag, Image, Note, PUBLIC_COLLECTION } from '@fedify/vocab';
import { escapeHtml } from '../../../emails/html.ts';
import { absoluteUrls } from '../../lib/absolute-urls.ts';
import { ANONYMOUS } from '../content/access.ts';
import { postForViewer, type PublishedPost } from '../content/posts.ts';
import { renderComment } from '../community/markdown.ts';

/**
 * The site's posts and staff replies as ActivityStreams objects. A post goes out as an Article
 * through postForViewer with an anonymous viewer, like the feed: a gated post carries only its
 * public preview and a link to subscribe, never a byte of the gated text.
 */
export const SITE_ACTOR = 'site';

export function articleId(siteUrl: string, postId: string): URL {
  return new URL(`${siteUrl}/ap/posts/${postId}`);
}

export function noteId(siteUrl: string, commentId: string): URL {
  return new URL(`${siteUrl}/ap/notes/${commentId}`);
}

export function actorId(siteUrl: string): URL {
  return new URL(`${siteUrl}/ap/actor/${SITE_ACTOR}`);
}

export function followersId(siteUrl: string): URL {
  return new URL(`${siteUrl}/ap/actor/${SITE_ACTOR}/followers`);
}

/** The Article's parts, plain: compared between syncs (what followers saw) and turned into the object. */
export interface ArticleParts {
  id: string;
  url: string;
  name: string;
  summary: string;
  content: string;
  image: string | null;
  tags: string[];
  published: string | null;
  gated: boolean;
}

export function articleParts(siteUrl: string, siteTitle: string, post: PublishedPost): ArticleParts {
  const view = postForViewer(post, ANONYMOUS);
  const url = `${siteUrl}/posts/${encodeURIComponent(post.slug)}`;
  const html = absoluteUrls(view.html, siteUrl);
  const more = view.gated
    ? `<p><a href="${escapeHtml(`${siteUrl}/join/fediverse`)}">Subscribe to ${escapeHtml(siteTitle)}</a> to read the rest: <a href="${escapeHtml(url)}">${escapeHtml(url)}</a></p>`
    : '';
  return {
    id: articleId(siteUrl, post.id).href,
    url,
    name: post.title,
    summary: view.description,
    content: html + more,
    image: post.feature_image ? new URL(post.feature_image, siteUrl).href : null,
    tags: post.tags,
    published: post.published_at ? post.published_at.toISOString() : null,
    gated: view.gated,
  };
}

export function articleFrom(siteUrl: string, parts: ArticleParts, updated?: Date): Article {
  return new Article({
    id: new URL(parts.id),
    attribution: actorId(siteUrl),
    to: PUBLIC_COLLECTION,
    cc: followersId(siteUrl),
    name: parts.name,
    summary: parts.summary,
    content: parts.content,
    mediaType: 'text/html',
    url: new URL(parts.url),
    image: parts.image ? new Image({ url: new URL(parts.image) }) : null,
    tags: parts.tags.map((t) => new Hashtag({ name: `#${t}`, href: new URL(`${siteUrl}/tags/${encodeURIComponent(t)}`) })),
    published: parts.published ? Temporal.Instant.from(parts.published) : null,
    updated: updated ? Temporal.Instant.fromEpochMilliseconds(updated.getTime()) : null,
  });
}

/** A staff answer to a fediverse comment: a public Note replying to the remote note, mentioning its author. */
export function answerNote(
  siteUrl: string,
  answer: { id: string; body: string; createdAt: Date },
  replyTo: { objectId: string; actor: string },
  postUrl: string,
): Note {
  return new Note({
    id: noteId(siteUrl, answer.id),
    attribution: actorId(siteUrl),
    to: PUBLIC_COLLECTION,
    ccs: [new URL(replyTo.actor), followersId(siteUrl)],
    replyTarget: new URL(replyTo.objectId),
    content: renderComment(answer.body),
    mediaType: 'text/html',
    url: new URL(postUrl),
    published: Temporal.Instant.fromEpochMilliseconds(answer.createdAt.getTime()),
  });
}
