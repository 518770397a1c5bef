import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { Brand } from '../../../emails/html.ts';
import { imageSizes } from '../content/images.ts';
import type { SiteSettings } from './settings.ts';

/**
 * The brand as every email draws it (emails/html.ts): name, accent, design, the logo with its
 * real size (an email's header needs width and height attributes), the postal address. A logo
 * whose size is not known yet is left out rather than drawn at an unknown size.
 */
export async function emailBrand(db: Kysely<Database>, site: SiteSettings, siteUrl: string): Promise<Brand> {
  const logoSize = site.logo ? (await imageSizes(db, [site.logo])).get(site.logo) : undefined;
  return {
    title: site.title,
    accentColor: site.accentColor,
    siteUrl,
    design: site.design,
    logo: site.logo && logoSize ? { src: site.logo, ...logoSize } : undefined,
    postalAddress: site.postalAddress,
  };
}
