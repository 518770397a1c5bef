import { z } from 'zod';

/** POST /api/v1/posts and PATCH /api/v1/posts/:id (DESIGN.md). */
const fields = {
  title: z.string().max(200),
  slug: z.string().max(100),
  markdown: z.string().max(500_000),
  excerpt: z.string().max(500),
  /** "public", "members", "paid", or {"tiers":[slug]} for named tiers (DESIGN.md). */
  visibility: z.union([z.enum(['public', 'members', 'paid']), z.object({ tiers: z.array(z.string().min(1).max(64)).min(1).max(20) }).strict()]),
  status: z.enum(['draft', 'published']),
  tags: z.array(z.string().max(50)).max(20),
  email_only: z.boolean(),
  /** ISO 8601 with a zone; in the future, the post is scheduled. */
  publish_at: z.iso.datetime({ offset: true }),
  feature_image: z.string().max(200).nullable(),
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
  })
  .strict();

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
    revision: z.number().int().positive(),
  })
  .strict();

/** The API's visibility as the editor's two fields. */
export function visibilityInput(v: z.infer<typeof fields.visibility> | undefined): { visibility?: 'public' | 'members' | 'paid' | 'tiers'; tiers?: string[] } {
  if (v === undefined) return {};
  return typeof v === 'string' ? { visibility: v } : { visibility: 'tiers', tiers: v.tiers };
}
