import { z } from 'zod';
import { Id } from './schema.ts';

/** The newsletters API's contract (DESIGN.md "Admin API v1"): the Newsletter shape and its one serializer. */

export const Newsletter = z
  .strictObject({
    id: Id,
    slug: z.string(),
    name: z.string(),
    default: z.boolean().meta({ description: 'New subscribers who choose none get this one.' }),
  })
  .meta({ id: 'Newsletter' });

export type NewsletterJson = z.infer<typeof Newsletter>;

export const NewsletterList = z.strictObject({ newsletters: z.array(Newsletter) });

export function newsletterJson(n: { id: string; slug: string; name: string; default: boolean }): NewsletterJson {
  return { id: n.id, slug: n.slug, name: n.name, default: n.default };
}
