import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ConflictError, NotFoundError } from '../../lib/errors.ts';
import { awardMilestones } from './milestones.ts';
import { isId } from '../../lib/ids.ts';

/**
 * Staff review of held referrals: approve (it counts from now, and the referrer's milestones are
 * checked) or reject (it never counts). A decision is final: the quick-unsubscribe guard does not
 * hold a referral staff approved.
 */
export async function listHeldReferrals(db: Kysely<Database>, limit = 200) {
  return db
    .selectFrom('referrals as r')
    .innerJoin('members as friend', 'friend.id', 'r.referred_id')
    .innerJoin('members as referrer', 'referrer.id', 'r.referrer_id')
    .select([
      'r.referred_id',
      'r.referrer_id',
      'r.flag',
      'r.flag_detail',
      'r.created_at',
      'r.confirmed_at',
      'friend.email as friend_email',
      'friend.status as friend_status',
      'referrer.email as referrer_email',
    ])
    .where('r.status', '=', 'held')
    .orderBy('r.confirmed_at')
    .orderBy('r.referred_id')
    .limit(limit)
    .execute();
}

async function decide(db: Kysely<Database>, referredId: string, staffUserId: string, to: 'counted' | 'rejected'): Promise<string> {
  if (!isId(referredId)) throw new NotFoundError('No such referral.', 'referral_not_found');
  const now = new Date();
  const row = await db
    .updateTable('referrals')
    .set({ status: to, reviewed_at: now, reviewed_by: staffUserId, counted_at: to === 'counted' ? now : null })
    .where('referred_id', '=', referredId)
    .where('status', '=', 'held')
    .returning('referrer_id')
    .executeTakeFirst();
  if (row) return row.referrer_id;
  const exists = await db.selectFrom('referrals').select('status').where('referred_id', '=', referredId).executeTakeFirst();
  if (!exists) throw new NotFoundError('No such referral.', 'referral_not_found');
  throw new ConflictError(`This referral is not held for review (it is ${exists.status}).`, 'referral_not_held');
}

export async function approveReferral(db: Kysely<Database>, referredId: string, staffUserId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const referrerId = await decide(trx, referredId, staffUserId, 'counted');
    await awardMilestones(trx, referrerId);
  });
}

export async function rejectReferral(db: Kysely<Database>, referredId: string, staffUserId: string): Promise<void> {
  await decide(db, referredId, staffUserId, 'rejected');
}
