import { parse } from 'csv-parse/sync';
import { ValidationError } from '../../../lib/errors.ts';
import { slugify } from '../../../lib/slug.ts';
import { findEntry, type Archive } from './archive.ts';
import type { ImageResolver, SourcePost } from './types.ts';

/**
 * Substack's export (Settings → Exports → Create new export): a zip with `posts.csv`
 * (`post_id,post_date,is_published,email_sent_at,inbox_sent_at,type,audience,title,subtitle,podcast_url`)
 * and `posts/<post_id>.html`, where post_id is `<number>.<slug>`. Posts answered at /p/<slug>.
 * Audience: everyone → public, only_free → members, only_paid and founding → paid.
 */
const REQUIRED = ['post_id', 'post_date', 'is_published', 'type', 'audience', 'title'];

export function readSubstack(archive: Archive): { posts: SourcePost[]; skipped: Array<{ source: string; reason: string }> } {
  const csv = findEntry(archive, 'posts.csv');
  if (!csv) throw new ValidationError('This is not a Substack export: the archive has no posts.csv.', 'not_substack_export');
  let records: Record<string, string>[];
  try {
    records = parse(
      Buffer.from(csv)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
      { columns: true, skip_empty_lines: true, relax_column_count: true },
    );
  } catch {
    throw new ValidationError('posts.csv in the archive is not a readable CSV file.', 'bad_csv');
  }
  const header = records.length > 0 ? Object.keys(records[0]!) : [];
  const missing = REQUIRED.filter((c) => records.length > 0 && !header.includes(c));
  if (missing.length > 0)
    throw new ValidationError(`posts.csv lacks the column(s) ${missing.join(', ')}: is it Substack's posts export?`, 'not_substack_export');

  const posts: SourcePost[] = [];
  const skipped: Array<{ source: string; reason: string }> = [];
  for (const r of records) {
    const postId = (r.post_id ?? '').trim();
    const dot = postId.indexOf('.');
    const title = (r.title ?? '').trim();
    const slug = dot > 0 && dot < postId.length - 1 ? postId.slice(dot + 1) : slugify(title);
    const file = findEntry(archive, `posts/${postId}.html`);
    if (!file) {
      skipped.push({ source: postId || title, reason: `posts/${postId}.html is not in the archive` });
      continue;
    }
    const published = (r.is_published ?? '').toLowerCase() === 'true';
    const audience = (r.audience ?? 'everyone').trim();
    const date = new Date(r.post_date ?? '');
    const emailOnly = false;
    posts.push({
      sourceId: postId,
      kind: 'post',
      title,
      slug,
      html: Buffer.from(file).toString('utf8'),
      excerpt: (r.subtitle ?? '').trim(),
      visibility: audience === 'only_paid' || audience === 'founding' ? 'paid' : audience === 'only_free' ? 'members' : 'public',
      tiers: [],
      status: published ? 'published' : 'draft',
      publishAt: Number.isNaN(date.getTime()) ? undefined : date,
      emailOnly,
      tags: r.type === 'podcast' ? ['podcast'] : r.type === 'thread' ? ['thread'] : [],
      authorEmails: [],
      authorNames: [],
      featureImage: null,
      oldPaths: [`/p/${slug}`],
    });
  }
  return { posts, skipped };
}

/** A relative image path in the HTML that the archive holds (Substack's own export links to its CDN). */
export function substackImages(archive: Archive): ImageResolver {
  return (src) => {
    if (/^[a-z]+:|^\/\//i.test(src)) return undefined;
    const path = decodeURIComponent(src.replace(/^\.?\//, '').split(/[?#]/)[0]!);
    return findEntry(archive, path) ?? findEntry(archive, `posts/${path}`);
  };
}
