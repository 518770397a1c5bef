import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { emitWebhookEvent } from '../webhooks/events.ts';
import { scheduleFediversePostSync } from '../fediverse/sync.ts';
import { enqueuePublish } from './publishing.ts';
import type { Visibility } from './access.ts';
import { slugify } from '../../lib/slug.ts';
import { decodeKeyset, keysetPage } from '../../lib/keyset.ts';
import { dbNow } from '../../lib/sql.ts';
import { getSiteSettings } from '../site/settings.ts';
import { checkTranslationLink } from './translations.ts';

/**
 * Writing posts: create, edit with last-write detection, publish. Every edit names the revision
 * it started from; if someone saved in between, the edit is refused (ConflictError) and the
 * editor keeps the text, so neither version is silently lost. A renamed post keeps its old slug
 * as a redirect.
 */
export interface PostInput {
  title: string;
  slug?: string | undefined;
  markdown: string;
  excerpt?: string | undefined;
  visibility: Visibility;
  status: 'draft' | 'published';
  tags?: string[] | undefined;
  emailOnly?: boolean | undefined;
  /** With status published: a future time schedules the post (it appears on its own then). */
  publishAt?: Date | undefined;
  /** With visibility "tiers": the slugs of the tiers whose members may read it. */
  tiers?: string[] | undefined;
  /** An image uploaded to this site (/uploads/…): the top of the page and its link previews. */
  featureImage?: string | null | undefined;
  /** ISO 639-1 among the site's languages; null: the site's; left out: unchanged (translations.ts). */
  language?: string | null | undefined;
  /** The id of the original this post translates; null: none; left out: unchanged. */
  translationOf?: string | null | undefined;
}

const UPLOADED_IMAGE = /^\/uploads\/\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.(png|jpg|gif|webp)$/;

const SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/;
export const MAX_MARKDOWN = 500_000;

export { slugify };

function validate(input: PostInput): Required<
  Omit<PostInput, 'slug' | 'publishAt' | 'tiers' | 'featureImage' | 'language' | 'translationOf'>
> & {
  slug: string;
  publishAt: Date | undefined;
  tiers: string[];
  featureImage: string | null;
} {
  const title = input.title.trim();
  if (title.length === 0 || title.length > 200) throw new ValidationError('Give the post a title of 1 to 200 characters.', 'invalid_title');
  const slug = (input.slug?.trim() || slugify(title)).toLowerCase();
  if (!SLUG.test(slug))
    throw new ValidationError(
      'The slug may use a–z, 0–9 and hyphens, up to 100 characters, starting with a letter or digit.',
      'invalid_slug',
    );
  if (input.markdown.length > MAX_MARKDOWN)
    throw new ValidationError(`The post is longer than ${MAX_MARKDOWN.toLocaleString('en')} characters.`, 'too_long');
  if (!['public', 'members', 'paid', 'tiers'].includes(input.visibility))
    throw new ValidationError('Visibility must be public, members, paid or named tiers.', 'invalid_visibility');
  if (!['draft', 'published'].includes(input.status)) throw new ValidationError('Status must be draft or published.', 'invalid_status');
  const tags = [...new Set((input.tags ?? []).map((t) => t.trim().toLowerCase()).filter(Boolean))];
  if (tags.length > 20 || tags.some((t) => t.length > 50)) throw new ValidationError('At most 20 tags of 50 characters.', 'invalid_tags');
  if (input.publishAt && Number.isNaN(input.publishAt.getTime()))
    throw new ValidationError('The publishing time is not a valid date.', 'invalid_date');
  const featureImage = input.featureImage?.trim() || null;
  if (featureImage && !UPLOADED_IMAGE.test(featureImage))
    throw new ValidationError('The feature image must be an image uploaded to this site (/uploads/…).', 'invalid_image');
  const tiers = [...new Set(input.tiers ?? [])];
  if (input.visibility === 'tiers' && tiers.length === 0)
    throw new ValidationError('Choose at least one tier who may read the post.', 'no_tiers');
  return {
    title,
    slug,
    markdown: input.markdown,
    excerpt: (input.excerpt ?? '').trim().slice(0, 500),
    visibility: input.visibility,
    status: input.status,
    tags,
    emailOnly: Boolean(input.emailOnly),
    publishAt: input.publishAt,
    tiers,
    featureImage,
  };
}

/** The ids of the named tiers, or a ValidationError naming the first unknown one. */
async function tierIds(db: Kysely<Database>, visibility: Visibility, slugs: string[]): Promise<string[]> {
  if (visibility !== 'tiers') return [];
  const rows = await db.selectFrom('tiers').select(['id', 'slug']).where('slug', 'in', slugs).execute();
  const missing = slugs.find((s) => !rows.some((r) => r.slug === s));
  if (missing) throw new ValidationError(`There is no tier called "${missing.slice(0, 60)}".`, 'unknown_tier');
  return rows.map((r) => r.id);
}

async function assertSlugFree(db: Kysely<Database>, slug: string, postId: string | null): Promise<void> {
  const [post, old] = await Promise.all([
    db.selectFrom('posts').select('id').where('slug', '=', slug).executeTakeFirst(),
    db.selectFrom('post_slugs').select('post_id').where('slug', '=', slug).executeTakeFirst(),
  ]);
  if ((post && post.id !== postId) || (old && old.post_id !== postId)) {
    throw new ConflictError(`Another post already uses the address /posts/${slug}. Choose another slug.`, 'slug_taken');
  }
}

/** The columns a save writes, shared by create and update. */
async function postColumns(db: Kysely<Database>, v: ReturnType<typeof validate>, currentPublishedAt: Date | null) {
  return {
    title: v.title,
    slug: v.slug,
    markdown: v.markdown,
    excerpt: v.excerpt,
    visibility: v.visibility,
    tier_ids: await tierIds(db, v.visibility, v.tiers),
    feature_image: v.featureImage,
    ...publication(v, currentPublishedAt),
    tags: v.tags,
    email_only: v.emailOnly,
  };
}

/** The language and original a save writes: checked only when the input names either. */
async function translationColumns(
  db: Kysely<Database>,
  postId: string | null,
  input: PostInput,
  current: { language: string | null; translation_of: string | null },
): Promise<{ language: string | null; translation_of: string | null } | Record<string, never>> {
  if (input.language === undefined && input.translationOf === undefined) return {};
  const site = await getSiteSettings(db);
  const link = await checkTranslationLink(
    db,
    postId,
    {
      language: input.language === undefined ? current.language : input.language,
      translationOf: input.translationOf === undefined ? current.translation_of : input.translationOf,
    },
    site.language,
  );
  return { language: link.language, translation_of: link.translationOf };
}

/** The stored status and publishing time: a future publishAt makes a published post scheduled. */
function publication(v: { status: 'draft' | 'published'; publishAt: Date | undefined }, current: Date | null) {
  if (v.status === 'draft') return { status: 'draft' as const, published_at: current };
  const at = v.publishAt ?? current ?? new Date();
  return { status: at.getTime() > Date.now() ? ('scheduled' as const) : ('published' as const), published_at: at };
}

export async function createPost(
  db: Kysely<Database>,
  input: PostInput,
  authorId: string | null,
): Promise<{ id: string; slug: string; revision: number }> {
  const v = validate(input);
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('hearth.post-slug'))`.execute(trx);
    await assertSlugFree(trx, v.slug, null);
    const row = await trx
      .insertInto('posts')
      .values({
        ...(await postColumns(trx, v, null)),
        ...(await translationColumns(trx, null, input, { language: null, translation_of: null })),
        author_id: authorId,
      })
      .returning(['id', 'slug', 'revision', 'status', 'published_at'])
      .executeTakeFirstOrThrow();
    if (row.status === 'published') await emitWebhookEvent(trx, 'post.published', { id: row.id, slug: row.slug });
    if (row.status !== 'draft') await scheduleFediversePostSync(trx, row.id, row.published_at);
    if (row.status === 'scheduled' && row.published_at) await enqueuePublish(trx, row.id, row.published_at);
    return { id: row.id, slug: row.slug, revision: row.revision };
  });
}

export async function updatePost(
  db: Kysely<Database>,
  postId: string,
  input: PostInput,
  expectedRevision: number,
): Promise<{ id: string; slug: string; revision: number }> {
  const v = validate(input);
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('hearth.post-slug'))`.execute(trx);
    const current = await trx
      .selectFrom('posts')
      .select(['id', 'slug', 'revision', 'published_at', 'status', 'language', 'translation_of'])
      .where('id', '=', postId)
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw new NotFoundError('No such post.', 'post_not_found');
    if (current.revision !== expectedRevision) {
      throw new ConflictError(
        `Someone else saved this post while you were editing (revision ${current.revision}, you started from ${expectedRevision}). Your text is kept below: copy it, reload the post, and apply your changes again.`,
        'stale_revision',
      );
    }
    if (v.slug !== current.slug) {
      await assertSlugFree(trx, v.slug, postId);
      await trx.deleteFrom('post_slugs').where('slug', '=', v.slug).execute();
      await trx
        .insertInto('post_slugs')
        .values({ slug: current.slug, post_id: postId })
        .onConflict((oc) => oc.column('slug').doUpdateSet({ post_id: postId }))
        .execute();
    }
    const row = await trx
      .updateTable('posts')
      .set({
        ...(await postColumns(trx, v, current.published_at)),
        ...(await translationColumns(trx, postId, input, current)),
        revision: current.revision + 1,
        updated_at: new Date(),
      })
      .where('id', '=', postId)
      .returning(['id', 'slug', 'revision', 'status', 'published_at'])
      .executeTakeFirstOrThrow();
    // Followers get the change (Update), the unpublishing (Delete) or the post itself (Create).
    await scheduleFediversePostSync(trx, row.id, row.published_at);
    if (row.status === 'published' && current.status !== 'published')
      await emitWebhookEvent(trx, 'post.published', { id: row.id, slug: row.slug });
    // (Re)scheduled: the job moves to the new time (same key). A post moved back to draft keeps a
    // job that finds nothing due.
    if (row.status === 'scheduled' && row.published_at) await enqueuePublish(trx, row.id, row.published_at);
    return { id: row.id, slug: row.slug, revision: row.revision };
  });
}

export async function getPostForEdit(db: Kysely<Database>, postId: string) {
  const post = await db
    .selectFrom('posts')
    .selectAll()
    .select(sql<string[]>`array(select t.slug from tiers t where t.id = any(posts.tier_ids) order by t.id)`.as('tier_slugs'))
    .where('id', '=', postId)
    .executeTakeFirst();
  if (!post) throw new NotFoundError('No such post.', 'post_not_found');
  return post;
}

export async function listPostsForStaff(db: Kysely<Database>, limit = 100) {
  return (
    db
      .selectFrom('posts')
      .select(['id', 'slug', 'title', 'status', 'visibility', 'published_at', 'updated_at', 'email_only'])
      .orderBy('updated_at', 'desc')
      // Posts saved in one transaction (a seed, an import) share updated_at: the newest first among them too.
      .orderBy('id', 'desc')
      .limit(limit)
      .execute()
  );
}

export type PostStatusFilter = 'draft' | 'scheduled' | 'published';
export type PostVisibilityFilter = 'public' | 'members' | 'paid' | 'tiers';

export interface PostListOptions {
  status?: PostStatusFilter | undefined;
  visibility?: PostVisibilityFilter | undefined;
  tag?: string | undefined;
  /** 1 to 200; default 50. */
  limit?: number | undefined;
  after?: string | undefined;
}

/**
 * Every post, newest first (keyset on id: ids only grow, so the order is the order of writing and
 * a page never shifts while posts are edited). A scheduled post whose time has come is listed as
 * published, as the API shows it. The tag filter uses posts_tags_idx (GIN, `@>`).
 */
export async function listPosts(db: Kysely<Database>, options: PostListOptions = {}) {
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new ValidationError('limit must be a whole number from 1 to 200.', 'invalid_limit');
  const cursor = decodeKeyset(options.after, ['id']);
  const tag = options.tag?.trim().toLowerCase();
  const rows = await db
    .selectFrom('posts')
    .selectAll()
    .select(sql<string[]>`array(select t.slug from tiers t where t.id = any(posts.tier_ids) order by t.id)`.as('tier_slugs'))
    .$if(cursor !== undefined, (q) => q.where('id', '<', String(cursor![0])))
    .$if(options.status === 'draft', (q) => q.where('status', '=', 'draft'))
    .$if(options.status === 'scheduled', (q) => q.where('status', '=', 'scheduled').where('published_at', '>', dbNow()))
    .$if(options.status === 'published', (q) =>
      q.where((eb) => eb.or([eb('status', '=', 'published'), eb.and([eb('status', '=', 'scheduled'), eb('published_at', '<=', dbNow())])])),
    )
    .$if(options.visibility !== undefined, (q) => q.where('visibility', '=', options.visibility!))
    .$if(Boolean(tag), (q) => q.where(sql<boolean>`tags @> array[${tag!}]::text[]`))
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const { page, next } = keysetPage(rows, limit, (last) => [last.id]);
  return { posts: page, next };
}

/** Where an old slug now lives, for a 301 from a link shared before the post was renamed. */
export async function findSlugRedirect(db: Kysely<Database>, slug: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('post_slugs as s')
    .innerJoin('posts as p', 'p.id', 's.post_id')
    .select('p.slug')
    .where('s.slug', '=', slug)
    .where('p.status', 'in', ['published', 'scheduled'])
    .where('p.published_at', '<=', dbNow())
    .executeTakeFirst();
  return row?.slug;
}
