import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { MilestoneReward } from '../../../emails/referral-milestone.ts';
import { automaticEmail } from '../emails/emails.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor } from '../newsletters/sender.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { enqueue, PRIORITY } from '../../lib/queue.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { recordEvent } from '../members/events.ts';
import { enterAutomations } from '../automations/enter.ts';
import { isSuppressed } from '../members/suppression.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { grantCompDays } from './rewards.ts';
import { isId } from '../../lib/ids.ts';

/**
 * Milestones: at N counted referrals, a reward. Staff define them; awardMilestones hands them
 * out whenever a member's count may have grown (a referred member confirms, staff approve a
 * held referral).
 */
export interface NewMilestone {
  threshold: number;
  description: string;
  reward: 'comp' | 'manual';
  /** comp only: the tier and how many days of it. */
  tierSlug?: string | undefined;
  compDays?: number | undefined;
}

export const MAX_COMP_DAYS = 3660;

export async function createMilestone(db: Kysely<Database>, input: NewMilestone) {
  const description = input.description.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (!Number.isInteger(input.threshold) || input.threshold < 1 || input.threshold > 100_000) {
    throw new ValidationError('The number of referrals is a whole number from 1 to 100,000.', 'invalid_threshold');
  }
  if (description.length < 1 || description.length > 200)
    throw new ValidationError('Describe the reward in 1 to 200 characters.', 'invalid_description');
  let tierId: string | null = null;
  let compDays: number | null = null;
  if (input.reward === 'comp') {
    const tier = input.tierSlug
      ? await db.selectFrom('tiers').select(['id', 'paid']).where('slug', '=', input.tierSlug).where('active', '=', true).executeTakeFirst()
      : undefined;
    if (!tier) throw new ValidationError('Choose the tier the complimentary days are for.', 'unknown_tier');
    if (!tier.paid) throw new ValidationError('Complimentary days are for a paid tier; everyone has the free one.', 'free_tier');
    if (!Number.isInteger(input.compDays) || input.compDays! < 1 || input.compDays! > MAX_COMP_DAYS) {
      throw new ValidationError(`Complimentary days are a whole number from 1 to ${MAX_COMP_DAYS}.`, 'invalid_days');
    }
    tierId = tier.id;
    compDays = input.compDays!;
  } else if (input.reward !== 'manual') {
    throw new ValidationError('A reward is complimentary days of a tier, or a manual reward.', 'invalid_reward');
  }
  const row = await db
    .insertInto('referral_milestones')
    .values({ threshold: input.threshold, description, reward: input.reward, tier_id: tierId, comp_days: compDays })
    .onConflict((oc) => oc.column('threshold').where('archived_at', 'is', null).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new ConflictError(`There is already a milestone at ${input.threshold} referrals; archive it first.`, 'milestone_exists');
  return row;
}

/** An archived milestone is no longer earned; rewards already given stay. */
export async function archiveMilestone(db: Kysely<Database>, milestoneId: string): Promise<void> {
  if (!isId(milestoneId)) throw new NotFoundError('No such milestone.', 'milestone_not_found');
  const done = await db
    .updateTable('referral_milestones')
    .set({ archived_at: new Date() })
    .where('id', '=', milestoneId)
    .where('archived_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!done) throw new NotFoundError('No such milestone (or it is archived already).', 'milestone_not_found');
}

export async function listMilestones(db: Kysely<Database>, options: { archived?: boolean } = {}) {
  return db
    .selectFrom('referral_milestones as ms')
    .leftJoin('tiers as t', 't.id', 'ms.tier_id')
    .select([
      'ms.id',
      'ms.threshold',
      'ms.description',
      'ms.reward',
      'ms.comp_days',
      't.name as tier_name',
      't.slug as tier_slug',
      'ms.created_at',
      'ms.archived_at',
    ])
    .select((eb) =>
      eb
        .selectFrom('referral_rewards as r')
        .select(sql<string>`count(*)`.as('n'))
        .whereRef('r.milestone_id', '=', 'ms.id')
        .as('awarded'),
    )
    .$if(!options.archived, (q) => q.where('ms.archived_at', 'is', null))
    .orderBy('ms.archived_at', (o) => o.nullsFirst())
    .orderBy('ms.threshold')
    .execute();
}

export async function countedReferrals(db: Kysely<Database>, memberId: string): Promise<number> {
  const row = await db
    .selectFrom('referrals')
    .select(sql<string>`count(*)`.as('n'))
    .where('referrer_id', '=', memberId)
    .where('status', '=', 'counted')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The first active milestone this member has not earned yet (it may be at or below their count
 * when it was added later: then it comes with their next counted referral). */
export async function nextMilestone(db: Kysely<Database>, memberId: string) {
  return db
    .selectFrom('referral_milestones as ms')
    .select(['ms.id', 'ms.threshold', 'ms.description'])
    .where('ms.archived_at', 'is', null)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('referral_rewards as r')
            .select('r.id')
            .whereRef('r.milestone_id', '=', 'ms.id')
            .where('r.member_id', '=', memberId),
        ),
      ),
    )
    .orderBy('ms.threshold')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Hands out every active milestone the member's counted referrals have reached and they have not
 * earned yet; returns how many. Runs in the caller's transaction, right after a referral became
 * counted. Race-safe: the member's row lock makes concurrent evaluations for one referrer take
 * turns (the second sees the first's referral), and the unique (member, milestone) row means a
 * reward is inserted, applied and mailed at most once whatever happens. The email is a job added
 * in the same transaction (the worker knows the site's address; see mailMilestone).
 */
export async function awardMilestones(db: Kysely<Database>, memberId: string): Promise<number> {
  const member = await db.selectFrom('members').select('id').where('id', '=', memberId).forUpdate().executeTakeFirst();
  if (!member) return 0;
  const count = await countedReferrals(db, memberId);
  const due = await db
    .selectFrom('referral_milestones as ms')
    .select(['ms.id', 'ms.reward', 'ms.tier_id', 'ms.comp_days', 'ms.threshold'])
    .where('ms.archived_at', 'is', null)
    .where('ms.threshold', '<=', count)
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('referral_rewards as r')
            .select('r.id')
            .whereRef('r.milestone_id', '=', 'ms.id')
            .where('r.member_id', '=', memberId),
        ),
      ),
    )
    .orderBy('ms.threshold')
    .execute();
  let earned = 0;
  for (const ms of due) {
    const comp = ms.reward === 'comp' && ms.tier_id !== null && ms.comp_days !== null;
    const inserted = await db
      .insertInto('referral_rewards')
      .values({
        member_id: memberId,
        milestone_id: ms.id,
        referrals: count,
        status: comp ? 'banked' : 'to_fulfil',
        tier_id: ms.tier_id,
        comp_days: ms.comp_days,
        banked_days: comp ? ms.comp_days! : 0,
      })
      .onConflict((oc) => oc.columns(['member_id', 'milestone_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) continue;
    let until: Date | null = null;
    if (comp) {
      until = await grantCompDays(db, memberId, ms.tier_id!, ms.comp_days!);
      if (until)
        await db
          .updateTable('referral_rewards')
          .set({ status: 'applied', banked_days: 0, comp_until: until })
          .where('id', '=', inserted.id)
          .execute();
    }
    await recordEvent(db, memberId, 'status_changed', {
      referral_milestone: ms.id,
      referrals: count,
      reward: comp ? (until ? 'comp' : 'comp_banked') : 'manual',
      ...(until ? { comp_until: until.toISOString() } : {}),
    });
    const key = milestoneMailKey(memberId, ms.id);
    await enqueue(
      db,
      MILESTONE_MAIL_TASK,
      { memberId, milestoneId: ms.id },
      { jobKey: key, priority: PRIORITY.transactional, maxAttempts: 12 },
    );
    await enterAutomations(db, 'referral_milestone', [memberId], { threshold: ms.threshold });
    earned++;
  }
  return earned;
}

export const MILESTONE_MAIL_TASK = 'referral_milestone_email';
const milestoneMailKey = (memberId: string, milestoneId: string) => `referral-milestone-${memberId}-${milestoneId}`;

/**
 * The milestone email (the worker's MILESTONE_MAIL_TASK): what the member earned, as it stands
 * now, and the next milestone. Queued under one idempotency key per member and milestone, so a
 * retried job never mails twice. A member we may not write to (left, bounced, suppressed) keeps
 * the reward without the email.
 */
export async function mailMilestone(
  db: Kysely<Database>,
  ctx: SiteLinks,
  input: { memberId: string; milestoneId: string },
): Promise<boolean> {
  const row = await db
    .selectFrom('referral_rewards as r')
    .innerJoin('referral_milestones as ms', 'ms.id', 'r.milestone_id')
    .innerJoin('members as m', 'm.id', 'r.member_id')
    .leftJoin('tiers as t', 't.id', 'r.tier_id')
    .select([
      'm.email',
      'm.name',
      'm.status as member_status',
      'm.referral_code',
      'm.language',
      'ms.description',
      'r.referrals',
      'r.status',
      'r.comp_until',
      'r.comp_days',
      'r.banked_days',
      't.name as tier_name',
    ])
    .where('r.member_id', '=', input.memberId)
    .where('r.milestone_id', '=', input.milestoneId)
    .executeTakeFirst();
  if (!row || row.member_status !== 'active' || (await isSuppressed(db, row.email))) return false;
  const tierName = row.tier_name ?? 'paid';
  const reward: MilestoneReward =
    row.status === 'applied' && row.comp_until
      ? { kind: 'comp', tierName, days: row.comp_days ?? 0, until: row.comp_until }
      : row.status === 'banked'
        ? { kind: 'comp_banked', tierName, days: row.banked_days }
        : { kind: 'manual' };
  const [site, next] = await Promise.all([getSiteSettings(db), nextMilestone(db, input.memberId)]);
  const rendered = await automaticEmail(db, 'referral_milestone', {
    lang: row.language ?? site.language,
    timeZone: site.timeZone,
    brand: await emailBrand(db, site, ctx.siteUrl),
    name: row.name,
    referrals: row.referrals,
    description: row.description,
    reward,
    referralUrl: `${ctx.siteUrl}/r/${row.referral_code}`,
    next: next ? { threshold: next.threshold, description: next.description } : null,
  });
  await queueEmail(
    db,
    { ...(await senderFor(db, ctx)), to: [row.email], ...rendered, tags: [{ name: 'kind', value: 'referral-milestone' }] },
    { idempotencyKey: milestoneMailKey(input.memberId, input.milestoneId) },
  );
  return true;
}
