import type { Post } from '../../db/types.ts';

/** The API's post shape (staff only: includes the whole Markdown). */
export function postJson(post: Post & { tier_slugs: string[] }, siteUrl: string) {
  return {
    id: post.id,
    slug: post.slug,
    url: `${siteUrl}/posts/${post.slug}`,
    title: post.title,
    markdown: post.markdown,
    excerpt: post.excerpt,
    visibility: post.visibility === 'tiers' ? { tiers: post.tier_slugs } : post.visibility,
    // A scheduled post whose time has come reads as published.
    status: post.status === 'scheduled' && post.published_at && post.published_at <= new Date() ? 'published' : post.status,
    tags: post.tags,
    email_only: post.email_only,
    feature_image: post.feature_image,
    revision: post.revision,
    published_at: post.published_at?.toISOString() ?? null,
    updated_at: post.updated_at.toISOString(),
  };
}
