import { z } from 'zod';
import type { Newsletter as NewsletterRow, NewsletterChanges } from '../../domain/newsletters/newsletters.ts';
import { Id, Timestamp } from './schema.ts';

/** The newsletters API's contract (DESIGN.md "Admin API v1"): request bodies, the Newsletter shape, and its one serializer. */

const address = (what: string) =>
  z
    .string()
    .max(254)
    .nullable()
    .optional()
    .meta({ description: `${what}; null or "" for the site's.` });

const fields = {
  name: z.string().min(1).max(100),
  description: z.string().max(500).optional(),
  default: z.boolean().optional().meta({ description: 'The newsletter a form without a choice subscribes to; one at a time.' }),
  sender_name: z.string().max(100).nullable().optional().meta({ description: 'The From name; null or "" for the site\'s.' }),
  sender_email: address('The From address'),
  reply_to: address('Where replies go'),
};

/** POST /api/v1/newsletters: strict, so a misspelt field is an error, not ignored. */
export const newNewsletterBody = z
  .object({
    slug: z
      .string()
      .max(100)
      .meta({ description: 'Lower-case letters, digits and hyphens, starting with a letter or a digit; at most 63.' }),
    ...fields,
  })
  .strict()
  .meta({ id: 'NewsletterCreate' });

/** PATCH /api/v1/newsletters/:slug: fields left out keep their value. */
export const patchNewsletterBody = z
  .object({
    slug: z.string().max(100).optional().meta({ description: 'A new slug (the old one stops working).' }),
    ...fields,
    name: fields.name.optional(),
    position: z.int().min(0).max(1_000_000).optional().meta({ description: 'Order in lists and forms; lower first.' }),
    archived: z.boolean().optional().meta({ description: 'false unarchives (DELETE archives).' }),
  })
  .strict()
  .meta({ id: 'NewsletterPatch' });

export const Newsletter = z
  .strictObject({
    id: Id,
    slug: z.string(),
    name: z.string(),
    description: z.string(),
    default: z.boolean().meta({ description: 'New subscribers who choose none get this one.' }),
    position: z.int(),
    sender_name: z.string().nullable(),
    sender_email: z.string().nullable(),
    reply_to: z.string().nullable(),
    archived: z.boolean().meta({ description: 'Keeps its members and sends; takes no new subscribers.' }),
    archived_at: Timestamp.nullable(),
  })
  .meta({ id: 'Newsletter' });

export type NewsletterJson = z.infer<typeof Newsletter>;

export const NewsletterList = z.strictObject({ newsletters: z.array(Newsletter) });
export const NewsletterEnvelope = z.strictObject({ newsletter: Newsletter });

export function newsletterJson(n: NewsletterRow): NewsletterJson {
  return {
    id: n.id,
    slug: n.slug,
    name: n.name,
    description: n.description,
    default: n.is_default,
    position: n.sort_order,
    sender_name: n.sender_name,
    sender_email: n.sender_email,
    reply_to: n.reply_to,
    archived: n.archived_at !== null,
    archived_at: n.archived_at?.toISOString() ?? null,
  };
}

/** A request body's snake_case fields as the domain's changes. */
export function newsletterChanges(body: z.infer<typeof patchNewsletterBody>): NewsletterChanges {
  return {
    slug: body.slug,
    name: body.name,
    description: body.description,
    default: body.default,
    senderName: body.sender_name,
    senderEmail: body.sender_email,
    replyTo: body.reply_to,
    sortOrder: body.position,
  };
}
