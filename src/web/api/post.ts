import { z } from 'zod';
import type { Post as PostRow } from '../../../db/types.ts';
import type { PostListOptions } from '../../domain/content/editor.ts';
import { ValidationError } from '../../lib/errors.ts';
import { Id, Next, Timestamp } from './schema.ts';

/** The posts API's contract (DESIGN.md "Admin API v1"): request bodies, the Post shape, and its one serializer. */

/** POST /api/v1/posts and PATCH /api/v1/posts/:id. */
const fields = {
  title: z.string().max(200),
  slug: z.string().max(100),
  markdown: z.string().max(500_000),
  excerpt: z.string().max(500),
  /** "public", "members", "paid", or {"tiers":[slug]} for named tiers (DESIGN.md). */
  visibility: z
    .union([z.enum(['public', 'members', 'paid']), z.object({ tiers: z.array(z.string().min(1).max(64)).min(1).max(20) }).strict()])
    .meta({ description: '"public", "members", "paid", or {"tiers":[slug]} for named tiers.' }),
  status: z.enum(['draft', 'published']),
  tags: z.array(z.string().max(50)).max(20),
  email_only: z.boolean(),
  /** ISO 8601 with a zone; in the future, the post is scheduled. */
  publish_at: z.iso.datetime({ offset: true }),
  feature_image: z.string().max(200).nullable(),
  /** ISO 639-1 among the site's languages (else 400); null: the site's. */
  language: z.string().max(20).nullable().meta({
    description: "The post's language: ISO 639-1 among the site's languages (GET /api/v1/site); null: the site's.",
    example: 'fr',
  }),
  /** The original this post translates (its id); null: not a translation. */
  translation_of: Id.nullable().meta({
    description:
      'The id of the post this one translates (an original, in another language; one translation per language); null: none. A send of the original gives each member the translation in their language.',
  }),
};

export const postBody = z
  .object({
    ...fields,
    slug: fields.slug.optional(),
    markdown: fields.markdown.default(''),
    excerpt: fields.excerpt.optional(),
    visibility: fields.visibility.default('public'),
    status: fields.status.default('draft'),
    tags: fields.tags.optional(),
    email_only: fields.email_only.optional(),
    publish_at: fields.publish_at.optional(),
    feature_image: fields.feature_image.optional(),
    language: fields.language.optional(),
    translation_of: fields.translation_of.optional(),
  })
  .strict()
  .meta({ id: 'PostCreate' });

/** A partial update: no defaults here, or a field left out would be reset. */
export const patchPostBody = z
  .object({
    title: fields.title.optional(),
    slug: fields.slug.optional(),
    markdown: fields.markdown.optional(),
    excerpt: fields.excerpt.optional(),
    visibility: fields.visibility.optional(),
    status: fields.status.optional(),
    tags: fields.tags.optional(),
    email_only: fields.email_only.optional(),
    publish_at: fields.publish_at.optional(),
    feature_image: fields.feature_image.optional(),
    language: fields.language.optional(),
    translation_of: fields.translation_of.optional(),
    revision: z.number().int().positive().meta({ description: 'The revision last read: a PATCH over a newer one is a 409.' }),
  })
  .strict()
  .meta({ id: 'PostPatch' });

/** The API's visibility as the editor's two fields. */
export function visibilityInput(v: z.infer<typeof fields.visibility> | undefined): {
  visibility?: 'public' | 'members' | 'paid' | 'tiers';
  tiers?: string[];
} {
  if (v === undefined) return {};
  return typeof v === 'string' ? { visibility: v } : { visibility: 'tiers', tiers: v.tiers };
}

export const Post = z
  .strictObject({
    id: Id,
    slug: z.string(),
    url: z.string().meta({ description: "The post's public address." }),
    title: z.string(),
    markdown: z.string(),
    excerpt: z.string(),
    visibility: fields.visibility,
    status: z.enum(['draft', 'scheduled', 'published']).meta({ description: 'A scheduled post whose time has come reads as published.' }),
    tags: z.array(z.string()),
    email_only: z.boolean(),
    feature_image: z.string().nullable(),
    language: z.string().nullable().meta({ description: "ISO 639-1 code of the post's language; null: the site's." }),
    translation_of: Id.nullable().meta({ description: 'The id of the post this one translates; null: not a translation.' }),
    revision: z.int(),
    published_at: Timestamp.nullable(),
    updated_at: Timestamp,
  })
  .meta({ id: 'Post' });

export type PostJson = z.infer<typeof Post>;

export const PostEnvelope = z.strictObject({ post: Post });

/** The API's post (staff only: includes the whole Markdown). */
export function postJson(post: PostRow & { tier_slugs: string[] }, siteUrl: string): PostJson {
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
    language: post.language,
    translation_of: post.translation_of,
    revision: post.revision,
    published_at: post.published_at?.toISOString() ?? null,
    updated_at: post.updated_at.toISOString(),
  };
}

export const PostPage = z.strictObject({ posts: z.array(Post), next: Next }).meta({ id: 'PostPage' });

/** GET /api/v1/posts: the query parameters (strings, as they arrive). */
export const postListQuery = z.object({
  status: z
    .enum(['draft', 'scheduled', 'published'])
    .optional()
    .meta({ description: 'A scheduled post whose time has come is published.' }),
  visibility: z.enum(['public', 'members', 'paid', 'tiers']).optional().meta({ description: '"tiers": gated to named tiers.' }),
  tag: z.string().min(1).max(50).optional().meta({ description: 'Only posts with this tag.' }),
  limit: z
    .string()
    .regex(/^\d{1,3}$/)
    .optional()
    .meta({ description: '1 to 200; default 50.' }),
  after: z.string().max(2000).optional().meta({ description: 'The `next` of the previous page.' }),
});

/** The query of GET /api/v1/posts as list options; a bad parameter is a 400 naming it. */
export function parsePostListQuery(params: URLSearchParams): PostListOptions {
  const parsed = postListQuery.safeParse(Object.fromEntries(params));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`${issue.path.join('.')}: ${issue.message}`, 'invalid_query');
  }
  const q = parsed.data;
  return {
    status: q.status,
    visibility: q.visibility,
    tag: q.tag,
    limit: q.limit === undefined ? undefined : Number(q.limit),
    after: q.after,
  };
}
