import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { awardMilestones, nextMilestone } from './milestones.ts';

/**
 * Members bring members: every member's /r/:code link leads to the subscribe page with their code,
 * which the new member's first touch keeps (members.ref) and which makes a referrals row
 * (guards.ts). The referral counts once the friend confirms, unless a fraud guard held it.
 */
export const REFERRAL_CODE = /^[a-z0-9]{8,16}$/;

/** Whether a code belongs to a member (the link itself reveals nothing either way). */
export async function referrerOf(db: Kysely<Database>, code: string): Promise<string | undefined> {
  if (!REFERRAL_CODE.test(code)) return undefined;
  const row = await db.selectFrom('members').select('id').where('referral_code', '=', code).executeTakeFirst();
  return row?.id;
}

/**
 * The friend confirmed: their pending referral counts (and the referrer's milestones are checked),
 * or, when a guard flagged it at subscribe, it is held for review. Runs in the confirmation's
 * transaction, which holds the friend's row lock, so it happens once.
 */
export async function creditReferral(db: Kysely<Database>, referredId: string): Promise<'counted' | 'held' | null> {
  const row = await db
    .updateTable('referrals')
    .set({
      status: sql<'counted' | 'held'>`case when flag is null then 'counted' else 'held' end`,
      confirmed_at: new Date(),
      counted_at: sql<Date | null>`case when flag is null then now() end`,
    })
    .where('referred_id', '=', referredId)
    .where('status', '=', 'pending')
    .returning(['referrer_id', 'status'])
    .executeTakeFirst();
  if (!row) return null;
  if (row.status === 'counted') await awardMilestones(db, row.referrer_id);
  return row.status === 'counted' ? 'counted' : 'held';
}

/** What a member sees of their referrals on their account page. */
export async function referralSummary(db: Kysely<Database>, memberId: string) {
  const member = await db.selectFrom('members').select('referral_code').where('id', '=', memberId).executeTakeFirstOrThrow();
  const [byStatus, next, rewards] = await Promise.all([
    db
      .selectFrom('referrals')
      .select([
        sql<string>`count(*) filter (where status = 'counted')`.as('counted'),
        sql<string>`count(*) filter (where status = 'pending')`.as('pending'),
        sql<string>`count(*) filter (where status = 'held')`.as('held'),
      ])
      .where('referrer_id', '=', memberId)
      .executeTakeFirstOrThrow(),
    nextMilestone(db, memberId),
    db
      .selectFrom('referral_rewards as r')
      .innerJoin('referral_milestones as ms', 'ms.id', 'r.milestone_id')
      .leftJoin('tiers as t', 't.id', 'r.tier_id')
      .select([
        'r.id',
        'ms.threshold',
        'ms.description',
        'r.status',
        'r.comp_until',
        'r.banked_days',
        't.name as tier_name',
        'r.created_at',
      ])
      .where('r.member_id', '=', memberId)
      .orderBy('ms.threshold')
      .execute(),
  ]);
  const counted = Number(byStatus.counted);
  return {
    code: member.referral_code,
    counted,
    /** Friends who subscribed but have not confirmed yet. */
    pending: Number(byStatus.pending),
    /** Friends whose referral is waiting for a check by staff. */
    held: Number(byStatus.held),
    next: next ? { threshold: next.threshold, description: next.description, remaining: Math.max(1, next.threshold - counted) } : null,
    rewards,
  };
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
