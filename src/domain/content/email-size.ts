import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { personalize, pollSlots, type CompiledEmail } from '../../../emails/post.ts';
import { ValidationError } from '../../lib/errors.ts';
import { renderPostVariants, type PostEmailVariants } from './email.ts';

/**
 * Gmail shows only the first 102 KB of an email's HTML and hides the rest (and the unsubscribe
 * link with it) behind "[Message clipped]". Counted in bytes of the HTML as sent, for the
 * heaviest variant and member: long slot values stand in for the longest names and links.
 */
export const GMAIL_CLIP_BYTES = 102 * 1024;
/** The editor and send form warn from here (90 % of the clip). */
export const CLIP_WARNING_BYTES = Math.round(GMAIL_CLIP_BYTES * 0.9);

export interface EmailSize {
  bytes: number;
  variant: 'full' | 'preview';
  warn: boolean;
  clipped: boolean;
}

const LONG_URL = `https://${'x'.repeat(40)}.example/unsubscribe?token=${'t'.repeat(160)}`;

/** The HTML size of a compiled email filled with the longest slot values a member could bring. */
export function heaviestBytes(email: CompiledEmail): number {
  const polls = Object.fromEntries(pollSlots(email).map((p) => [p.slot, LONG_URL]));
  const html = personalize(email, {
    name: 'x'.repeat(100),
    unsubscribe_url: LONG_URL,
    preferences_url: LONG_URL,
    referral_url: LONG_URL,
    ...polls,
  }).html;
  return Buffer.byteLength(html);
}

export function variantsSize(variants: PostEmailVariants): EmailSize {
  const full = heaviestBytes(variants.full);
  const preview = variants.preview ? heaviestBytes(variants.preview) : 0;
  const bytes = Math.max(full, preview);
  return { bytes, variant: preview > full ? 'preview' : 'full', warn: bytes >= CLIP_WARNING_BYTES, clipped: bytes > GMAIL_CLIP_BYTES };
}

export async function postEmailSize(
  db: Kysely<Database>,
  siteUrl: string,
  postId: string,
  options: { uploadsDir?: string | undefined } = {},
): Promise<EmailSize> {
  return variantsSize(await renderPostVariants(db, siteUrl, postId, options));
}

export const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** Refuses to send an email Gmail would clip unless staff said they know. */
export async function checkNotClipped(db: Kysely<Database>, siteUrl: string, postId: string, confirmed: boolean): Promise<void> {
  if (confirmed) return;
  const size = await postEmailSize(db, siteUrl, postId);
  if (size.clipped)
    throw new ValidationError(
      `This email is ${kb(size.bytes)}: Gmail clips emails over ${kb(GMAIL_CLIP_BYTES)} and hides the rest, unsubscribe link included. Shorten the post, or confirm that you want to send it clipped.`,
      'email_clipped',
    );
}
