import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/**
 * Members bring members: every member's /r/:code link leads to the subscribe page with their code,
 * which the new member's first touch keeps (members.ref). A referral counts once the referred
 * member has confirmed (status active), never before.
 */
export const REFERRAL_CODE = /^[a-z0-9]{8,16}$/;

/** Whether a code belongs to a member (the link itself reveals nothing either way). */
export async function referrerOf(db: Kysely<Database>, code: string): Promise<string | undefined> {
  if (!REFERRAL_CODE.test(code)) return undefined;
  const row = await db.selectFrom('members').select('id').where('referral_code', '=', code).executeTakeFirst();
  return row?.id;
}

export async function referralSummary(db: Kysely<Database>, memberId: string) {
  const member = await db.selectFrom('members').select('referral_code').where('id', '=', memberId).executeTakeFirstOrThrow();
  const row = await db
    .selectFrom('members')
    .select([sql<string>`count(*) filter (where status = 'active')`.as('confirmed'), sql<string>`count(*) filter (where status = 'pending')`.as('pending')])
    .where('ref', '=', member.referral_code)
    .where('id', '<>', memberId)
    .executeTakeFirstOrThrow();
  return { code: member.referral_code, confirmed: Number(row.confirmed), pending: Number(row.pending) };
}

/** Plain share links for the platforms of DESIGN.md: no platform script, nothing loaded. */
export function shareLinks(url: string, text: string): Array<{ platform: string; label: string; href: string }> {
  const u = encodeURIComponent(url);
  const t = encodeURIComponent(text);
  const both = encodeURIComponent(`${text} ${url}`);
  return [
    { platform: 'x', label: 'X', href: `https://x.com/intent/post?text=${t}&url=${u}` },
    { platform: 'bluesky', label: 'Bluesky', href: `https://bsky.app/intent/compose?text=${both}` },
    { platform: 'threads', label: 'Threads', href: `https://www.threads.net/intent/post?text=${both}` },
    { platform: 'linkedin', label: 'LinkedIn', href: `https://www.linkedin.com/sharing/share-offsite/?url=${u}` },
    { platform: 'facebook', label: 'Facebook', href: `https://www.facebook.com/sharer/sharer.php?u=${u}` },
    { platform: 'reddit', label: 'Reddit', href: `https://www.reddit.com/submit?url=${u}&title=${t}` },
    { platform: 'email', label: 'Email', href: `mailto:?subject=${t}&body=${both}` },
  ];
}
