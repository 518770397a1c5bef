import { sql, type Kysely } from 'kysely';
import type { Database, ReferralFlag } from '../../../db/types.ts';
import { hmac } from '../../lib/tokens.ts';
import { REFERRAL_CODE } from './referrals.ts';
import { canonicalMailbox, deviceClass, networkOf } from './signals.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Fraud guards. A referral that trips one is flagged when it is made (at subscribe), and held for
 * staff review instead of counted when the friend confirms:
 * - self: the friend's address is the referrer's own mailbox (name+tag@, Gmail dots), or the
 *   form was sent from a browser signed in as the referrer;
 * - network: the referrer already has NETWORK.before referrals from the same /24 or /48 network in
 *   the last NETWORK.hours hours;
 * - device: the referrer already has DEVICE.before referrals from the same browser class in the
 *   last DEVICE.hours hours;
 * - quick_unsubscribe: a counted referral whose friend leaves within QUICK_UNSUBSCRIBE_DAYS of
 *   confirming goes back to held.
 * An unconfirmed referral never counts (it stays pending).
 */
export const REFERRAL_GUARDS = {
  network: { before: 2, hours: 24 },
  device: { before: 4, hours: 1 },
  quickUnsubscribeDays: 7,
  /** Network and browser-class HMACs are only needed for the burst windows; dropped after this. */
  keepSignalsDays: 30,
} as const;

export interface ReferralSignals {
  clientIp: string;
  userAgent?: string | null | undefined;
  /** The member signed in on the browser that sent the subscribe form, if any. */
  signedInMemberId?: string | null | undefined;
}

const ordinal = (n: number) =>
  `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;

/**
 * Records that a new member came through a referral code, with the guards' verdict. Called in the
 * subscribe transaction, once, when the member row is made (the first touch is kept forever). An
 * unknown code, or the member's own, records nothing.
 */
export async function recordReferral(
  db: Kysely<Database>,
  secret: string,
  input: { referredId: string; referredEmail: string; ref: string } & ReferralSignals,
): Promise<{ referrerId: string; flag: ReferralFlag | null } | null> {
  const code = input.ref.trim().toLowerCase();
  if (!REFERRAL_CODE.test(code)) return null;
  // Locked, so that two sign-ups for one referrer take turns and each sees the other's burst.
  const referrer = await db.selectFrom('members').select(['id', 'email']).where('referral_code', '=', code).forUpdate().executeTakeFirst();
  if (!referrer || referrer.id === input.referredId) return null;

  const network = networkOf(input.clientIp);
  const networkHash = network ? hmac(secret, 'referral:network', network) : null;
  const device = deviceClass(input.userAgent);
  const deviceHash = hmac(secret, 'referral:device', device);

  let flag: ReferralFlag | null = null;
  let detail: string | null = null;
  if (input.signedInMemberId === referrer.id) {
    flag = 'self';
    detail = 'Sent from a browser signed in as the referrer.';
  } else if (canonicalMailbox(input.referredEmail) === canonicalMailbox(referrer.email)) {
    flag = 'self';
    detail = "The friend's address delivers to the referrer's own mailbox.";
  } else {
    const recent = async (column: 'network_hash' | 'device_hash', hash: string, hours: number) => {
      const row = await db
        .selectFrom('referrals')
        .select(sql<string>`count(*)`.as('n'))
        .where('referrer_id', '=', referrer.id)
        .where(column, '=', hash)
        .where('created_at', '>', dbNow({ hours: -hours }))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    };
    const fromNetwork = networkHash ? await recent('network_hash', networkHash, REFERRAL_GUARDS.network.hours) : 0;
    if (fromNetwork >= REFERRAL_GUARDS.network.before) {
      flag = 'network';
      detail = `The ${ordinal(fromNetwork + 1)} referral from one network within ${REFERRAL_GUARDS.network.hours} hours.`;
    } else {
      const fromDevice = await recent('device_hash', deviceHash, REFERRAL_GUARDS.device.hours);
      if (fromDevice >= REFERRAL_GUARDS.device.before) {
        flag = 'device';
        detail = `The ${ordinal(fromDevice + 1)} referral from one kind of browser (${device}) within ${REFERRAL_GUARDS.device.hours === 1 ? 'an hour' : `${REFERRAL_GUARDS.device.hours} hours`}.`;
      }
    }
  }
  await db
    .insertInto('referrals')
    .values({
      referred_id: input.referredId,
      referrer_id: referrer.id,
      flag,
      flag_detail: detail,
      network_hash: networkHash,
      device_hash: deviceHash,
    })
    .onConflict((oc) => oc.column('referred_id').doNothing())
    .execute();
  return { referrerId: referrer.id, flag };
}

/**
 * A referred member who leaves within QUICK_UNSUBSCRIBE_DAYS of confirming: their counted referral
 * goes back to held (not counted). Called where a member unsubscribes, in that transaction. A
 * referral staff already reviewed stays as they decided. Rewards already given are not taken back.
 */
export async function holdQuickLeaver(db: Kysely<Database>, referredId: string): Promise<boolean> {
  const held = await db
    .updateTable('referrals')
    .set({
      status: 'held',
      flag: 'quick_unsubscribe',
      flag_detail: sql<string>`'Left ' || greatest(1, ceil(extract(epoch from (now() - confirmed_at)) / 3600))::int || ' hours after confirming.'`,
      counted_at: null,
    })
    .where('referred_id', '=', referredId)
    .where('status', '=', 'counted')
    .where('reviewed_at', 'is', null)
    .where('confirmed_at', '>', dbNow({ days: -REFERRAL_GUARDS.quickUnsubscribeDays }))
    .returning('referred_id')
    .executeTakeFirst();
  return held !== undefined;
}

/**
 * The same for every other way of leaving (staff unsubscribes, bounces, complaints), from the
 * hourly job: a counted referral whose friend is no longer active and left within the window.
 */
export async function holdQuickLeavers(db: Kysely<Database>): Promise<number> {
  const result = await sql`
    update referrals r
    set status = 'held', flag = 'quick_unsubscribe', counted_at = null,
        flag_detail = 'Left within ' || ${REFERRAL_GUARDS.quickUnsubscribeDays} || ' days of confirming.'
    from members m
    where m.id = r.referred_id
      and r.status = 'counted' and r.reviewed_at is null
      and r.counted_at > now() - interval '30 days'
      and m.status <> 'active'
      and coalesce(m.unsubscribed_at, m.updated_at) < r.confirmed_at + make_interval(days => ${REFERRAL_GUARDS.quickUnsubscribeDays})
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Drops the network and browser-class HMACs once no guard window can need them. */
export async function forgetOldSignals(db: Kysely<Database>): Promise<void> {
  await db
    .updateTable('referrals')
    .set({ network_hash: null, device_hash: null })
    .where('created_at', '<', dbNow({ days: -REFERRAL_GUARDS.keepSignalsDays }))
    .where((eb) => eb.or([eb('network_hash', 'is not', null), eb('device_hash', 'is not', null)]))
    .execute();
}
