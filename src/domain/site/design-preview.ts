import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { personalize, renderPostEmail } from '../../../emails/post.ts';
import { renderMarkdown } from '../content/markdown.ts';
import { emailBrand } from './brand.ts';
import type { SiteSettings } from './settings.ts';

const SAMPLE = `This is how a post looks in your readers' inboxes: your logo, colours and fonts, and [a link](/posts) in the body.

## A heading in your heading font

> A quote from a reader, set apart.

- One point
- Another point

Thank you for reading.`;

/** A sample post email in the given design, for the design page's preview (nothing is sent or stored). */
export async function sampleEmailHtml(db: Kysely<Database>, site: SiteSettings, siteUrl: string): Promise<string> {
  const compiled = renderPostEmail({
    brand: await emailBrand(db, site, siteUrl),
    title: 'A sample post',
    url: `${siteUrl}/posts`,
    bodyHtml: renderMarkdown(SAMPLE),
    cut: true,
    upgradeUrl: `${siteUrl}/join`,
    author: 'The editors',
  });
  return personalize(compiled, { name: 'Alice', unsubscribe_url: `${siteUrl}/unsubscribe`, preferences_url: `${siteUrl}/unsubscribe` })
    .html;
}
