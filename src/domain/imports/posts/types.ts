import type { Visibility } from '../../content/access.ts';

/** One post as read from an export, before it is written (write.ts). */
export interface SourcePost {
  /** The post's id in the source, for the report. */
  sourceId: string;
  kind: 'post' | 'page';
  title: string;
  slug: string;
  /** The body as HTML (Ghost's `html`, Substack's posts/<id>.html). */
  html: string;
  excerpt: string;
  visibility: Visibility;
  /** With visibility "tiers": the source's tier slugs and names (matched to Hearth's tiers by slug, then name). */
  tiers: Array<{ slug: string; name: string }>;
  status: 'draft' | 'published';
  publishAt: Date | undefined;
  emailOnly: boolean;
  tags: string[];
  authorEmails: string[];
  authorNames: string[];
  /** The source's address of the feature image, or null. */
  featureImage: string | null;
  /** Paths the post answered at on the source, answered here with a 301 (e.g. /p/slug). */
  oldPaths: string[];
}

/** What an import did, listed for staff (CLI and admin). */
export interface PostImportReport {
  format: 'ghost' | 'substack';
  created: Array<{ slug: string; title: string }>;
  updated: Array<{ slug: string; title: string }>;
  skipped: Array<{ source: string; reason: string }>;
  imagesCopied: number;
  /** Images not in the archive: kept as links (a reader page never loads them from elsewhere). */
  imagesExternal: Array<{ slug: string; url: string }>;
  redirects: number;
  notes: string[];
}

/** An image's bytes from the archive, or undefined when the archive does not hold it. */
export type ImageResolver = (src: string) => Uint8Array | undefined;
