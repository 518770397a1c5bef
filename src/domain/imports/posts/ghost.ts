import { ValidationError } from '../../../lib/errors.ts';
import { findEntry, type Archive } from './archive.ts';
import type { ImageResolver, SourcePost } from './types.ts';

/**
 * Ghost's JSON export (Settings → Advanced → Import/Export → Export content):
 * `{"db":[{"meta":{…},"data":{"posts":[…],"tags":[…],"posts_tags":[…],"users":[…],
 * "posts_authors":[…],"products":[…],"posts_products":[…]}}]}` (older exports: the object
 * without `db`, `page: 1` instead of `type: "page"`, `author_id`, dates in milliseconds).
 * Bodies are the `html` column (Ghost renders lexical/mobiledoc into it on export).
 */
type Row = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const rows = (v: unknown): Row[] => (Array.isArray(v) ? v.filter((r): r is Row => typeof r === 'object' && r !== null) : []);

function date(v: unknown): Date | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const d = typeof v === 'number' ? new Date(v) : new Date(str(v));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The `data` object of an export, or a ValidationError saying what is wrong with the file. */
export function ghostData(json: unknown): Row {
  const root = json as Row | null;
  const candidate =
    root && typeof root === 'object' && Array.isArray(root.db)
      ? ((root.db[0] as Row | undefined)?.data as Row | undefined)
      : (root?.data as Row | undefined);
  if (!candidate || typeof candidate !== 'object' || !Array.isArray(candidate.posts)) {
    throw new ValidationError('This is not a Ghost content export: it has no db[0].data.posts list.', 'not_ghost_export');
  }
  return candidate;
}

export function readGhost(json: unknown): SourcePost[] {
  const data = ghostData(json);
  const byId = <T>(list: Row[], f: (r: Row) => T) => new Map(list.map((r) => [str(r.id), f(r)]));
  const tags = byId(rows(data.tags), (t) => ({ name: str(t.name), visibility: str(t.visibility) }));
  const users = byId(rows(data.users), (u) => ({ name: str(u.name), email: str(u.email) }));
  const products = byId(rows(data.products ?? data.tiers), (p) => ({ slug: str(p.slug), name: str(p.name) }));
  const group = (list: Row[], key: string) => {
    const out = new Map<string, Row[]>();
    for (const r of [...list].sort((a, b) => Number(a.sort_order ?? 0) - Number(b.sort_order ?? 0))) {
      const id = str(r.post_id);
      out.set(id, [...(out.get(id) ?? []), r]);
      void key;
    }
    return out;
  };
  const postTags = group(rows(data.posts_tags), 'tag_id');
  const postAuthors = group(rows(data.posts_authors), 'author_id');
  const postTiers = group(rows(data.posts_products ?? data.posts_tiers), 'product_id');

  return rows(data.posts).map((p): SourcePost => {
    const id = str(p.id);
    const kind = p.type === 'page' || p.page === 1 || p.page === true ? 'page' : 'post';
    const ghostStatus = str(p.status);
    const visibility = str(p.visibility) || 'public';
    const authors = (postAuthors.get(id) ?? []).map((r) => users.get(str(r.author_id))).filter((u) => u !== undefined);
    if (authors.length === 0 && p.author_id !== undefined) {
      const u = users.get(str(p.author_id));
      if (u) authors.push(u);
    }
    const slug = str(p.slug);
    return {
      sourceId: id,
      kind,
      title: str(p.title),
      slug,
      html: str(p.html),
      excerpt: str(p.custom_excerpt),
      visibility: visibility === 'members' ? 'members' : visibility === 'paid' ? 'paid' : visibility === 'tiers' ? 'tiers' : 'public',
      tiers: (postTiers.get(id) ?? []).map((r) => products.get(str(r.product_id))).filter((t) => t !== undefined),
      // published, scheduled (a future time), sent (email only); draft stays a draft.
      status: ghostStatus === 'draft' ? 'draft' : 'published',
      publishAt: date(p.published_at),
      emailOnly: ghostStatus === 'sent',
      // Ghost's internal tags (#name, visibility "internal") are for its themes, not readers.
      tags: (postTags.get(id) ?? [])
        .map((r) => tags.get(str(r.tag_id)))
        .filter((t) => t !== undefined && t.visibility !== 'internal' && !t.name.startsWith('#'))
        .map((t) => t!.name),
      authorEmails: authors.map((a) => a.email).filter(Boolean),
      authorNames: authors.map((a) => a.name).filter(Boolean),
      featureImage: str(p.feature_image) || null,
      oldPaths: slug ? [`/${slug}`] : [],
    };
  });
}

/** Ghost writes its own address as `__GHOST_URL__`; the site's own links become paths here. */
export function ghostHtml(html: string): string {
  return html.replace(/__GHOST_URL__\//g, '/');
}

/** Images of a Ghost site live under /content/images/…; Ghost's export zip holds that folder. */
export function ghostImages(archive: Archive | null): ImageResolver {
  return (src) => {
    if (!archive) return undefined;
    const m = /\/content\/images\/([^?#]+)$/.exec(src.replace(/^__GHOST_URL__/, ''));
    if (!m) return undefined;
    const path = decodeURIComponent(m[1]!);
    return findEntry(archive, `content/images/${path}`) ?? findEntry(archive, `images/${path}`);
  };
}
