import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { getSiteSettings } from '../site/settings.ts';

/**
 * Who an email to a member is from, and where a reply goes. Every email a member receives
 * carries both (the mail queue's type requires them), so "reply to reach a person" is true.
 *
 * - From: the newsletter's sender name and address, else MAIL_FROM's, else the site's name at
 *   `hearth@<site host>` (the default display name is the brand, never "Hearth").
 * - Reply-To: the newsletter's reply-to, else the site's `reply_to` setting, else the From address.
 *
 * An email about several newsletters (a confirmation for two) speaks for the first in their
 * order; an email about none (sign-in, billing, conversation, referral) for the site.
 */
export interface Sender {
  /** `"Name" <address>` */
  from: string;
  replyTo: string;
}

/** What the domain knows of the process's mail settings: SITE_URL and MAIL_FROM (unset: the default). */
export interface MailDefaults {
  readonly siteUrl: string;
  readonly mailFrom?: string | undefined;
}

/** `Name <a@b>` or `a@b` → its parts (MAIL_FROM is checked at start-up: config.ts). */
export function parseMailbox(mailbox: string): { name: string | null; address: string } {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(mailbox);
  if (!m) return { name: null, address: mailbox.trim() };
  const name = m[1]!
    .replace(/^"(.*)"$/, '$1')
    .replace(/\\(.)/g, '$1')
    .trim();
  return { name: name === '' ? null : name, address: m[2]!.trim() };
}

/** `"Name" <address>`: the display name quoted (RFC 5322), control characters removed. */
export function formatMailbox(name: string, address: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (clean === '') return address;
  return `"${clean.replace(/[\\"]/g, (c) => `\\${c}`)}" <${address}>`;
}

/** The sender as a pure function of its inputs (tested without a database). */
export function resolveSender(input: {
  mail: MailDefaults;
  siteName: string;
  siteReplyTo: string | null | undefined;
  newsletter: { sender_name: string | null; sender_email: string | null; reply_to: string | null } | null | undefined;
}): Sender {
  const fallback = parseMailbox(input.mail.mailFrom ?? `hearth@${new URL(input.mail.siteUrl).hostname}`);
  const nl = input.newsletter;
  const address = nl?.sender_email ?? fallback.address;
  const name = nl?.sender_name ?? fallback.name ?? input.siteName;
  return { from: formatMailbox(name, address), replyTo: nl?.reply_to ?? input.siteReplyTo ?? address };
}

/**
 * The sender of an email about these newsletters (ids; none: an email about the member, not a
 * newsletter). Archived newsletters still speak for their own emails (a send to their members).
 */
export async function senderFor(db: Kysely<Database>, mail: MailDefaults, newsletterIds: readonly string[] = []): Promise<Sender> {
  // One after the other: db is often a transaction, one connection.
  const site = await getSiteSettings(db);
  const newsletter =
    newsletterIds.length === 0
      ? undefined
      : await db
          .selectFrom('newsletters')
          .select(['sender_name', 'sender_email', 'reply_to'])
          .where('id', 'in', [...newsletterIds])
          .orderBy('sort_order')
          .orderBy('id')
          .limit(1)
          .executeTakeFirst();
  return resolveSender({ mail, siteName: site.title, siteReplyTo: site.reply_to, newsletter });
}
