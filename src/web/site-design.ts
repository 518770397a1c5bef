import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { FONT_STACKS } from '../../emails/design.ts';
import { imageSizes } from '../domain/content/images.ts';
import type { SiteSettings } from '../domain/site/settings.ts';

/**
 * The brand's design on reader pages: CSS custom properties in the layout's head (site.css reads
 * them). Values come from validated settings (#rrggbb colours, fonts from a fixed list), so the
 * CSS cannot be broken out of.
 */
export function designCss(site: SiteSettings): string {
  const d = site.design;
  return `:root{--accent:${site.accentColor};--link:${d.linkColor};--font-body:${FONT_STACKS[d.bodyFont]};--font-heading:${FONT_STACKS[d.headingFont]}}`;
}

/** The default share picture's size (share.png.ts draws it). */
export const DEFAULT_SHARE = { path: '/share.png', width: 1200, height: 630 };

export interface ShareImage {
  url: string;
  width: number | undefined;
  height: number | undefined;
}

/**
 * The picture of a link to a page (og:image): the page's own (a post's feature image, else its
 * first image), else the site's share image, else its logo, else a plain card in the accent
 * colour; with its size when known.
 */
export async function shareImageFor(
  db: Kysely<Database>,
  site: SiteSettings,
  siteUrl: string,
  uploadsDir: string,
  pageImage: string | null | undefined,
): Promise<ShareImage> {
  const path = [pageImage, site.shareImage, site.logo].find((p): p is string => typeof p === 'string' && p.startsWith('/uploads/'));
  if (!path) return { url: `${siteUrl}${DEFAULT_SHARE.path}`, width: DEFAULT_SHARE.width, height: DEFAULT_SHARE.height };
  const size = (await imageSizes(db, [path], uploadsDir)).get(path);
  return { url: `${siteUrl}${path}`, width: size?.width, height: size?.height };
}

/** A post's first image of this site, for its link preview when it has no feature image. */
export function firstImage(html: string): string | undefined {
  return /<img\s[^>]*src="(\/uploads\/[^"]+)"/.exec(html)?.[1];
}
