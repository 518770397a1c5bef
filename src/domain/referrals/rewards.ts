import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ConflictError, NotFoundError } from '../../lib/errors.ts';
import { recordEvent } from '../members/events.ts';
import { isId } from '../../lib/ids.ts';

/**
 * Complimentary days earned at a milestone, and how they stack with what the member already has:
 * - on the free tier: the reward tier from now, for the reward's days;
 * - already complimentary on the same tier with an end date: the end moves later by the days
 *   (on top of the existing comp_until);
 * - paying through Stripe, complimentary on another tier, or complimentary with no end: the days
 *   are banked, and start when that access ends (the subscription ends, or the comp expires).
 *   A member never loses a paid day, and never holds two accesses at once.
 * A member who starts paying while reward days run keeps the unused days, banked again.
 */

/**
 * Gives `days` of complimentary access on a tier when it fits the rules above; returns the new
 * end, or null when the days must wait (banked). The caller holds the member's row lock.
 */
export async function grantCompDays(db: Kysely<Database>, memberId: string, tierId: string, days: number): Promise<Date | null> {
  const result = await sql<{ comp_until: Date }>`
    update members
    set tier_id = ${tierId},
        tier_source = 'comp',
        -- Milliseconds, as a JavaScript Date holds it: the reward row keeps this exact end, and
        -- bankUnusedRewardDays compares the two.
        comp_until = date_trunc('milliseconds', (case when tier_source = 'comp' then greatest(comp_until, now()) else now() end) + make_interval(days => ${days})),
        updated_at = now()
    where id = ${memberId}
      and (tier_source = 'default' or (tier_source = 'comp' and tier_id = ${tierId} and comp_until is not null))
    returning comp_until
  `.execute(db);
  return result.rows[0]?.comp_until ?? null;
}

/**
 * Starts a member's banked reward days that now fit (oldest first), in the caller's transaction,
 * with the member's row locked by the caller. Returns how many rewards started.
 */
export async function startBankedRewardsFor(db: Kysely<Database>, memberId: string): Promise<number> {
  const banked = await db
    .selectFrom('referral_rewards')
    .select(['id', 'tier_id', 'banked_days'])
    .where('member_id', '=', memberId)
    .where('status', '=', 'banked')
    .where('tier_id', 'is not', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  let started = 0;
  for (const reward of banked) {
    const until = await grantCompDays(db, memberId, reward.tier_id!, reward.banked_days);
    if (!until) break;
    await db
      .updateTable('referral_rewards')
      .set({ status: 'applied', banked_days: 0, comp_until: until })
      .where('id', '=', reward.id)
      .execute();
    await recordEvent(db, memberId, 'status_changed', {
      referral_reward: reward.id,
      tier_id: reward.tier_id,
      comp_until: until.toISOString(),
      banked: true,
    });
    started++;
  }
  return started;
}

/**
 * Every member whose access fell back to the free tier while reward days were banked (their
 * subscription or complimentary access ended): the days start now. Run by the hourly job, after
 * expireComps; the Stripe webhook does the same at once for the member it concerns.
 */
export async function startAllBankedRewards(db: Kysely<Database>): Promise<number> {
  const members = await db
    .selectFrom('referral_rewards as r')
    .innerJoin('members as m', 'm.id', 'r.member_id')
    .select('r.member_id')
    .distinct()
    .where('r.status', '=', 'banked')
    .where('m.tier_source', '=', 'default')
    .limit(1000)
    .execute();
  let started = 0;
  for (const { member_id } of members) {
    started += await db.transaction().execute(async (trx) => {
      await trx.selectFrom('members').select('id').where('id', '=', member_id).forUpdate().executeTakeFirst();
      return startBankedRewardsFor(trx, member_id);
    });
  }
  return started;
}

/**
 * The member starts paying while reward days run: the unused days go back to the bank (they start
 * again when the subscription ends). Only when the current complimentary end was set by a reward;
 * staff's own complimentary access is replaced by the subscription as before. The caller holds the
 * member's row lock.
 */
export async function bankUnusedRewardDays(db: Kysely<Database>, memberId: string): Promise<number> {
  const result = await sql<{ banked_days: number }>`
    update referral_rewards r
    set status = 'banked', banked_days = ceil(extract(epoch from (m.comp_until - now())) / 86400)::int, comp_until = null
    from members m
    where m.id = ${memberId}
      and r.id = (select id from referral_rewards where member_id = ${memberId} and status = 'applied' and comp_until is not null
                  order by created_at desc, id desc limit 1)
      and m.tier_source = 'comp' and m.comp_until > now() and r.comp_until = m.comp_until
    returning r.banked_days
  `.execute(db);
  return result.rows[0]?.banked_days ?? 0;
}

/** Staff mark a manual reward (a sticker, a call) as fulfilled. */
export async function fulfilReward(db: Kysely<Database>, rewardId: string, staffUserId: string): Promise<void> {
  if (!isId(rewardId)) throw new NotFoundError('No such reward.', 'reward_not_found');
  const done = await db
    .updateTable('referral_rewards')
    .set({ status: 'fulfilled', fulfilled_at: new Date(), fulfilled_by: staffUserId })
    .where('id', '=', rewardId)
    .where('status', '=', 'to_fulfil')
    .returning('id')
    .executeTakeFirst();
  if (done) return;
  const exists = await db.selectFrom('referral_rewards').select('status').where('id', '=', rewardId).executeTakeFirst();
  if (!exists) throw new NotFoundError('No such reward.', 'reward_not_found');
  throw new ConflictError(
    exists.status === 'fulfilled'
      ? 'This reward was already marked fulfilled.'
      : 'This reward is applied automatically; there is nothing to fulfil.',
    'reward_not_open',
  );
}

/** Rewards waiting on staff (manual ones to fulfil) and on time (banked days), oldest first. */
export async function listOpenRewards(db: Kysely<Database>, limit = 200) {
  const rows = await db
    .selectFrom('referral_rewards as r')
    .innerJoin('referral_milestones as ms', 'ms.id', 'r.milestone_id')
    .innerJoin('members as m', 'm.id', 'r.member_id')
    .leftJoin('tiers as t', 't.id', 'r.tier_id')
    .select([
      'r.id',
      'r.member_id',
      'm.email',
      'm.name',
      'ms.description',
      'ms.threshold',
      'r.status',
      'r.banked_days',
      't.name as tier_name',
      'r.created_at',
    ])
    .where('r.status', 'in', ['to_fulfil', 'banked'])
    .orderBy('r.created_at')
    .orderBy('r.id')
    .limit(limit)
    .execute();
  return rows;
}
