import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from '../../../../db/types.ts';
import { DomainError } from '../../../lib/errors.ts';
import { saveImage } from '../../../lib/uploads.ts';
import { createPost, MAX_MARKDOWN, updatePost, type PostInput } from '../../content/editor.ts';
import { htmlToMarkdown, rewriteImages } from './convert.ts';
import { normalizePath } from './redirects.ts';
import type { ImageResolver, PostImportReport, SourcePost } from './types.ts';
import { recordImageSize } from '../../content/images.ts';

/**
 * Writes imported posts through the content domain (createPost / updatePost, so every rule of the
 * editor holds), matched by slug: importing the same export again updates the posts it made
 * instead of adding copies. Images the archive holds are copied into uploads; the others stay
 * links (the renderer shows an outside image as a link) and are listed. Nothing here sends mail:
 * a post is only emailed by a send, which an import never creates.
 */
// Ghost's paywall card, and Substack's paywall marker: where the public preview ends.
const CUT = /<!--\s*members-only\s*-->|<div[^>]*class="[^"]*\bpaywall-jump\b[^"]*"[^>]*>\s*<\/div>/;

export async function writePosts(
  db: Kysely<Database>,
  uploadsDir: string,
  posts: SourcePost[],
  resolveImage: ImageResolver,
  report: PostImportReport,
): Promise<void> {
  const [tiers, staff] = await Promise.all([
    db.selectFrom('tiers').select(['slug', 'name']).execute(),
    db.selectFrom('staff_users').select(['id', 'email']).execute(),
  ]);
  const copied = new Map<string, string | null>();
  const seen = new Set<string>();

  for (const source of posts) {
    const label = source.slug || source.title || source.sourceId;
    if (seen.has(source.slug)) {
      report.skipped.push({ source: label, reason: 'another post in this file has the same slug' });
      continue;
    }
    seen.add(source.slug);
    try {
      const { markdown: converted, images } = htmlToMarkdown(source.html, { cutMarker: CUT });

      // Images: copied when the archive has them, else kept as links and listed.
      const external: string[] = [];
      const copy = async (src: string): Promise<string | null> => {
        if (copied.has(src)) return copied.get(src)!;
        const bytes = resolveImage(src);
        let local: string | null = null;
        if (bytes) {
          try {
            local = await saveImage(uploadsDir, Readable.from([Buffer.from(bytes)]));
            await recordImageSize(db, uploadsDir, local);
            report.imagesCopied += 1;
          } catch {
            local = null; // not a PNG/JPEG/GIF/WebP, or too large: kept as a link
          }
        }
        copied.set(src, local);
        return local;
      };
      const local = new Map<string, string>();
      for (const src of images) {
        const path = await copy(src);
        if (path) local.set(src, path);
        else if (!external.includes(src)) external.push(src);
      }
      const markdown = rewriteImages(converted, (src) => local.get(src) ?? src);
      let featureImage: string | null = null;
      if (source.featureImage) {
        featureImage = await copy(source.featureImage);
        if (!featureImage && !external.includes(source.featureImage)) external.push(source.featureImage);
      }

      if (markdown.length > MAX_MARKDOWN) {
        report.skipped.push({
          source: label,
          reason: `the body is longer than ${MAX_MARKDOWN.toLocaleString('en')} characters as Markdown`,
        });
        continue;
      }

      // Tiers: matched to Hearth's by slug, then name; a post for tiers Hearth lacks stays gated as paid.
      let visibility = source.visibility;
      const tierSlugs: string[] = [];
      if (visibility === 'tiers') {
        for (const t of source.tiers) {
          const match =
            tiers.find((h) => h.slug === t.slug) ?? tiers.find((h) => h.name.trim().toLowerCase() === t.name.trim().toLowerCase());
          if (match) tierSlugs.push(match.slug);
        }
        if (tierSlugs.length === 0) {
          visibility = 'paid';
          report.notes.push(
            `"${label}" was for tiers ${source.tiers.map((t) => t.name || t.slug).join(', ') || '(none named)'} that Hearth does not have: imported for paying members`,
          );
        }
      }

      const tags = [...source.tags.map((t) => t.slice(0, 50)), ...(source.kind === 'page' ? ['page'] : [])].slice(0, 20);
      const input: PostInput = {
        title: source.title.slice(0, 200),
        slug: source.slug,
        markdown,
        excerpt: source.excerpt,
        visibility,
        status: source.status,
        tags,
        emailOnly: source.emailOnly,
        publishAt: source.publishAt,
        tiers: tierSlugs,
        featureImage,
      };
      const authorId = staff.find((s) => source.authorEmails.some((e) => e.toLowerCase() === s.email.toLowerCase()))?.id ?? null;

      const existing = await db
        .selectFrom('posts')
        .select(['id', 'revision', 'published_at'])
        .where('slug', '=', source.slug)
        .executeTakeFirst();
      if (existing) {
        // A draft keeps the publishing time the source had (updatePost keeps the current one).
        await updatePost(db, existing.id, input, existing.revision);
        if (source.status === 'draft' && source.publishAt)
          await db.updateTable('posts').set({ published_at: source.publishAt }).where('id', '=', existing.id).execute();
        report.updated.push({ slug: source.slug, title: input.title });
      } else {
        const created = await createPost(db, input, authorId);
        if (source.status === 'draft' && source.publishAt)
          await db.updateTable('posts').set({ published_at: source.publishAt }).where('id', '=', created.id).execute();
        report.created.push({ slug: source.slug, title: input.title });
      }
      for (const src of external) report.imagesExternal.push({ slug: source.slug, url: src });

      for (const old of source.oldPaths.map(normalizePath)) {
        if (old === `/posts/${source.slug}` || old.length > 300) continue;
        await db
          .insertInto('post_redirects')
          .values({ old_path: old, slug: source.slug })
          .onConflict((oc) => oc.column('old_path').doUpdateSet({ slug: source.slug }))
          .execute();
        report.redirects += 1;
      }
    } catch (err) {
      if (err instanceof DomainError) report.skipped.push({ source: label, reason: err.message });
      else throw err;
    }
  }
}
