import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../src/lib/errors.ts';
import { confirmToken } from '../../src/domain/members/links.ts';
import { exportMemberData, unsubscribeAll } from '../../src/domain/members/preferences.ts';
import { confirmSubscription, subscribe } from '../../src/domain/members/subscribe.ts';
import { forgetOldSignals, holdQuickLeavers } from '../../src/domain/referrals/guards.ts';
import { archiveMilestone, awardMilestones, createMilestone, mailMilestone } from '../../src/domain/referrals/milestones.ts';
import { referralSummary } from '../../src/domain/referrals/referrals.ts';
import { approveReferral, listHeldReferrals, rejectReferral } from '../../src/domain/referrals/review.ts';
import { bankUnusedRewardDays, fulfilReward, startAllBankedRewards } from '../../src/domain/referrals/rewards.ts';
import { leaderboard, referralChannel, referralsOverTime, referralTotals } from '../../src/domain/referrals/stats.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { hmac } from '../../src/lib/tokens.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';

/** Referrals on a real PostgreSQL: attribution into confirmation, milestones and rewards, each fraud guard. */
const ctx = { secret: TEST_SECRET, siteUrl: 'https://news.example.com' };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

let t: TestDatabase;
let staffId: string;
let net = 0;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  staffId = (await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' })).id;
});
afterAll(async () => {
  await t.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
  await t.db.deleteFrom('referral_milestones').where('id', 'not in', t.db.selectFrom('referral_rewards').select('milestone_id')).execute();
  await t.db.updateTable('referral_milestones').set({ archived_at: new Date() }).where('archived_at', 'is', null).execute();
});

/** A fresh /24 for each friend unless one is given: the network guard stays out of tests about other things. */
const nextIp = () => `198.${18 + Math.floor(++net / 250)}.${net % 250}.7`;

async function member(email: string, extra: { tier?: string; source?: 'comp' | 'stripe'; compUntil?: Date | null } = {}) {
  return t.db
    .insertInto('members')
    .values({
      email,
      status: 'active',
      confirmed_at: new Date(),
      tier_id: sql<string>`(select id from tiers where slug = ${extra.tier ?? 'free'})` as unknown as string,
      tier_source: extra.source ?? 'default',
      comp_until: extra.compUntil ?? null,
      referral_code: Math.random().toString(36).slice(2, 12).padEnd(10, 'x'),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

async function refer(code: string, email: string, signals: { ip?: string; ua?: string; signedIn?: string } = {}) {
  await subscribe(t.db, ctx, {
    email,
    ref: code,
    utmSource: 'referral',
    clientIp: signals.ip ?? nextIp(),
    userAgent: signals.ua ?? CHROME,
    signedInMemberId: signals.signedIn,
  });
  return t.db.selectFrom('members').selectAll().where('email', '=', email).executeTakeFirstOrThrow();
}

async function confirm(memberId: string) {
  return confirmSubscription(t.db, ctx, confirmToken(TEST_SECRET, memberId, []));
}

async function referAndConfirm(code: string, email: string, signals: { ip?: string; ua?: string; signedIn?: string } = {}) {
  const friend = await refer(code, email, signals);
  await confirm(friend.id);
  return friend;
}

const referral = (referredId: string) =>
  t.db.selectFrom('referrals').selectAll().where('referred_id', '=', referredId).executeTakeFirstOrThrow();
const memberRow = (id: string) =>
  t.db
    .selectFrom('members as m')
    .innerJoin('tiers as t', 't.id', 'm.tier_id')
    .select(['m.tier_source', 'm.comp_until', 't.slug as tier'])
    .where('m.id', '=', id)
    .executeTakeFirstOrThrow();
const rewards = (memberId: string) =>
  t.db.selectFrom('referral_rewards').selectAll().where('member_id', '=', memberId).orderBy('id').execute();
const milestoneJobs = async (memberId: string) =>
  (
    await sql<{ payload: { memberId: string; milestoneId: string }; key: string | null }>`
    select j.payload, j.key from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = 'referral_milestone_email' and j.payload->>'memberId' = ${memberId}`.execute(t.db)
  ).rows;
const DAY = 86_400_000;
const daysFromNow = (d: Date | null) => (d!.getTime() - Date.now()) / DAY;

describe('attribution into confirmation', () => {
  it('records a referral at subscribe, counts it only when the friend confirms, once', async () => {
    const a = await member('alice@example.com');
    const friend = await refer(a.referral_code, 'bea@example.com');
    expect(friend.source_platform).toBe('referral');
    expect(await referral(friend.id)).toMatchObject({ referrer_id: a.id, status: 'pending', flag: null });
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 0, pending: 1, held: 0 });

    await confirm(friend.id);
    await confirm(friend.id); // a second click changes nothing
    expect(await referral(friend.id)).toMatchObject({ status: 'counted', confirmed_at: expect.any(Date), counted_at: expect.any(Date) });
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 1, pending: 0 });
  });

  it('counts a friend who confirms by signing in instead of clicking the confirmation', async () => {
    const { requestSignIn, verifySignInLink } = await import('../../src/domain/membership/signin.ts');
    const a = await member('signer-ref@example.com');
    const friend = await refer(a.referral_code, 'signs-in@example.com');
    await requestSignIn(t.db, ctx, { email: 'signs-in@example.com', clientIp: nextIp() });
    const job = await sql<{
      text: string;
    }>`select j.payload->'message'->>'text' as text from graphile_worker._private_jobs j where j.payload->'message'->'to'->>0 = 'signs-in@example.com' and j.payload->'message'->>'subject' like 'Your sign-in link%'`.execute(
      t.db,
    );
    const token = /signin\/verify\?token=(\S+)/.exec(job.rows[0]!.text)![1]!;
    await verifySignInLink(t.db, token);
    expect((await referral(friend.id)).status).toBe('counted');
  });

  it('records nothing for an unknown code, a code of another shape, or an address that was known already', async () => {
    const a = await member('carol@example.com');
    const stranger = await refer('nosuchcode99', 'dan@example.com');
    const odd = await refer('Bad-Code!', 'dana@example.com');
    await member('known-before@example.com');
    await subscribe(t.db, ctx, { email: 'known-before@example.com', ref: a.referral_code, clientIp: nextIp() });
    const rows = await t.db.selectFrom('referrals').select('referred_id').where('referred_id', 'in', [stranger.id, odd.id]).execute();
    expect(rows).toEqual([]);
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 0, pending: 0 });
  });

  it('stores no IP address: only HMACs of the network and the browser class', async () => {
    const a = await member('privacy@example.com');
    const friend = await refer(a.referral_code, 'private-friend@example.com', { ip: '203.0.113.77', ua: CHROME });
    const row = await referral(friend.id);
    expect(row.network_hash).toBe(hmac(TEST_SECRET, 'referral:network', '203.0.113.0/24'));
    expect(row.device_hash).toBe(hmac(TEST_SECRET, 'referral:device', 'chrome/124 windows'));
    const everything = JSON.stringify(await t.db.selectFrom('referrals').selectAll().execute());
    expect(everything).not.toContain('203.0.113');
    expect(everything).not.toContain('Mozilla');

    await t.db
      .updateTable('referrals')
      .set({ created_at: new Date(Date.now() - 31 * DAY) })
      .where('referred_id', '=', friend.id)
      .execute();
    await forgetOldSignals(t.db);
    expect(await referral(friend.id)).toMatchObject({ network_hash: null, device_hash: null });
  });
});

describe('milestones and rewards', () => {
  it('awards each milestone once as referrals cross it: a manual reward to fulfil, then complimentary days, with an email job each', async () => {
    const sticker = await createMilestone(t.db, { threshold: 1, description: 'a sticker', reward: 'manual' });
    const month = await createMilestone(t.db, {
      threshold: 2,
      description: 'a month of Supporter',
      reward: 'comp',
      tierSlug: 'supporter',
      compDays: 30,
    });
    const a = await member('ed@example.com');
    await referAndConfirm(a.referral_code, 'f1@example.com');
    expect(await rewards(a.id)).toMatchObject([{ milestone_id: sticker.id, status: 'to_fulfil', referrals: 1 }]);
    expect(await memberRow(a.id)).toMatchObject({ tier: 'free', tier_source: 'default' });

    await referAndConfirm(a.referral_code, 'f2@example.com');
    const [, comp] = await rewards(a.id);
    expect(comp).toMatchObject({ milestone_id: month.id, status: 'applied', comp_days: 30, banked_days: 0, referrals: 2 });
    const row = await memberRow(a.id);
    expect(row).toMatchObject({ tier: 'supporter', tier_source: 'comp' });
    expect(daysFromNow(row.comp_until)).toBeCloseTo(30, 1);
    expect(comp!.comp_until!.getTime()).toBe(row.comp_until!.getTime());

    // Evaluating again (a retry, a later confirmation) awards nothing twice.
    expect(await awardMilestones(t.db, a.id)).toBe(0);
    await referAndConfirm(a.referral_code, 'f3@example.com');
    expect(await rewards(a.id)).toHaveLength(2);

    const jobs = await milestoneJobs(a.id);
    expect(jobs.map((j) => j.payload.milestoneId).sort()).toEqual([sticker.id, month.id].sort());
    expect(jobs.map((j) => j.key).sort()).toEqual(
      [`referral-milestone-${a.id}-${sticker.id}`, `referral-milestone-${a.id}-${month.id}`].sort(),
    );

    // The email job queues the email under one idempotency key per member and milestone.
    expect(await mailMilestone(t.db, ctx, { memberId: a.id, milestoneId: month.id })).toBe(true);
    const mail = await sql<{ payload: { idempotencyKey: string; message: { to: string[]; subject: string; text: string } } }>`
      select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'send_email' and j.payload->>'idempotencyKey' = ${`referral-milestone-${a.id}-${month.id}`}`.execute(t.db);
    expect(mail.rows).toHaveLength(1);
    expect(mail.rows[0]!.payload.message).toMatchObject({
      to: ['ed@example.com'],
      subject: 'You reached a milestone: a month of Supporter',
    });
    expect(mail.rows[0]!.payload.message.text).toContain('2 friends joined');
    expect(mail.rows[0]!.payload.message.text).toContain(`https://news.example.com/r/${a.referral_code}`);

    // Staff mark the manual reward fulfilled, once.
    const manual = (await rewards(a.id))[0]!;
    await fulfilReward(t.db, manual.id, staffId);
    expect((await rewards(a.id))[0]).toMatchObject({ status: 'fulfilled', fulfilled_by: staffId });
    await expect(fulfilReward(t.db, manual.id, staffId)).rejects.toThrow(ConflictError);
    await expect(fulfilReward(t.db, comp!.id, staffId)).rejects.toThrow(ConflictError);
    await expect(fulfilReward(t.db, '999999', staffId)).rejects.toThrow(NotFoundError);
  });

  it('does not mail a member who left; they keep the reward', async () => {
    const ms = await createMilestone(t.db, { threshold: 1, description: 'a pin', reward: 'manual' });
    const a = await member('gone-referrer@example.com');
    await t.db.updateTable('members').set({ status: 'unsubscribed' }).where('id', '=', a.id).execute();
    await referAndConfirm(a.referral_code, 'friend-of-gone@example.com');
    expect(await rewards(a.id)).toHaveLength(1);
    expect(await mailMilestone(t.db, ctx, { memberId: a.id, milestoneId: ms.id })).toBe(false);
  });

  it('awards once when two friends confirm at the same moment', async () => {
    await createMilestone(t.db, { threshold: 2, description: 'a mug', reward: 'manual' });
    await createMilestone(t.db, { threshold: 3, description: 'a tote', reward: 'manual' });
    const a = await member('racer@example.com');
    await referAndConfirm(a.referral_code, 'r1@example.com');
    const friends = [await refer(a.referral_code, 'r2@example.com'), await refer(a.referral_code, 'r3@example.com')];
    await Promise.all(friends.map((f) => confirm(f.id)));
    const got = await rewards(a.id);
    expect(got.map((r) => r.referrals).sort()).toEqual([2, 3]);
    expect(await milestoneJobs(a.id)).toHaveLength(2);
    // Evaluations racing each other directly: still one row per milestone.
    await Promise.all([1, 2, 3].map(() => t.db.transaction().execute((trx) => awardMilestones(trx, a.id))));
    expect(await rewards(a.id)).toHaveLength(2);
  });

  it('gives a milestone added later at the next counted referral; an archived one is no longer earned', async () => {
    const a = await member('late@example.com');
    await referAndConfirm(a.referral_code, 'l1@example.com');
    await referAndConfirm(a.referral_code, 'l2@example.com');
    const old = await createMilestone(t.db, { threshold: 1, description: 'a badge', reward: 'manual' });
    const gone = await createMilestone(t.db, { threshold: 3, description: 'a hat', reward: 'manual' });
    expect(await rewards(a.id)).toHaveLength(0); // nobody is awarded the moment a milestone is made
    expect((await referralSummary(t.db, a.id)).next).toMatchObject({ threshold: 1, description: 'a badge', remaining: 1 });
    await archiveMilestone(t.db, gone.id);
    await referAndConfirm(a.referral_code, 'l3@example.com');
    expect((await rewards(a.id)).map((r) => r.milestone_id)).toEqual([old.id]);
    expect((await referralSummary(t.db, a.id)).next).toBeNull();
  });

  it('validates milestones', async () => {
    await expect(createMilestone(t.db, { threshold: 0, description: 'x', reward: 'manual' })).rejects.toThrow(ValidationError);
    await expect(createMilestone(t.db, { threshold: 5, description: ' ', reward: 'manual' })).rejects.toThrow(ValidationError);
    await expect(
      createMilestone(t.db, { threshold: 5, description: 'free', reward: 'comp', tierSlug: 'free', compDays: 30 }),
    ).rejects.toThrow(ValidationError);
    await expect(
      createMilestone(t.db, { threshold: 5, description: 'no tier', reward: 'comp', tierSlug: 'nope', compDays: 30 }),
    ).rejects.toThrow(ValidationError);
    await expect(
      createMilestone(t.db, { threshold: 5, description: 'forever', reward: 'comp', tierSlug: 'supporter', compDays: 0 }),
    ).rejects.toThrow(ValidationError);
    await createMilestone(t.db, { threshold: 5, description: 'a call', reward: 'manual' });
    await expect(createMilestone(t.db, { threshold: 5, description: 'again', reward: 'manual' })).rejects.toThrow(ConflictError);
    await expect(archiveMilestone(t.db, 'abc')).rejects.toThrow(NotFoundError);
  });
});

describe('complimentary days stacking', () => {
  async function earnMonth(referrer: { referral_code: string }, tag: string) {
    await t.db.updateTable('referral_milestones').set({ archived_at: new Date() }).where('archived_at', 'is', null).execute();
    await createMilestone(t.db, { threshold: 1, description: `a month (${tag})`, reward: 'comp', tierSlug: 'supporter', compDays: 30 });
    await referAndConfirm(referrer.referral_code, `${tag}-friend@example.com`);
  }

  it('adds the days on top of complimentary time on the same tier', async () => {
    const a = await member('stack-comp@example.com', { tier: 'supporter', source: 'comp', compUntil: new Date(Date.now() + 10 * DAY) });
    await earnMonth(a, 'stack');
    const row = await memberRow(a.id);
    expect(row).toMatchObject({ tier: 'supporter', tier_source: 'comp' });
    expect(daysFromNow(row.comp_until)).toBeCloseTo(40, 1);
  });

  it('banks the days of a paying member: they start when the paid subscription ends, not before', async () => {
    const a = await member('stack-paid@example.com', { tier: 'supporter', source: 'stripe' });
    await earnMonth(a, 'paid');
    expect(await rewards(a.id)).toMatchObject([{ status: 'banked', banked_days: 30, comp_until: null }]);
    expect(await memberRow(a.id)).toMatchObject({ tier: 'supporter', tier_source: 'stripe', comp_until: null });
    expect(await startAllBankedRewards(t.db)).toBe(0); // still paying: nothing starts

    // The subscription ends (what syncSubscription does): back to free, then the banked days start.
    await t.db
      .updateTable('members')
      .set({ tier_id: sql<string>`(select id from tiers where slug = 'free')` as unknown as string, tier_source: 'default' })
      .where('id', '=', a.id)
      .execute();
    expect(await startAllBankedRewards(t.db)).toBe(1);
    const row = await memberRow(a.id);
    expect(row).toMatchObject({ tier: 'supporter', tier_source: 'comp' });
    expect(daysFromNow(row.comp_until)).toBeCloseTo(30, 1);
    expect((await rewards(a.id))[0]).toMatchObject({ status: 'applied', banked_days: 0 });
  });

  it('banks behind complimentary access with no end, or on another tier', async () => {
    await t.db
      .insertInto('tiers')
      .values({ slug: 'patron', name: 'Patron', paid: true, monthly_amount: 2000, currency: 'usd' })
      .onConflict((oc) => oc.column('slug').doNothing())
      .execute();
    const forever = await member('stack-forever@example.com', { tier: 'supporter', source: 'comp', compUntil: null });
    const other = await member('stack-other@example.com', { tier: 'patron', source: 'comp', compUntil: new Date(Date.now() + 5 * DAY) });
    await earnMonth(forever, 'forever');
    await earnMonth(other, 'other');
    expect((await rewards(forever.id))[0]).toMatchObject({ status: 'banked' });
    expect((await rewards(other.id))[0]).toMatchObject({ status: 'banked' });
    expect(await memberRow(other.id)).toMatchObject({ tier: 'patron' });
  });

  it('keeps the unused days of a member who starts paying while reward days run', async () => {
    const a = await member('stack-starts-paying@example.com');
    await earnMonth(a, 'starts');
    expect(await memberRow(a.id)).toMatchObject({ tier_source: 'comp' });
    await t.db.transaction().execute(async (trx) => {
      expect(await bankUnusedRewardDays(trx, a.id)).toBe(30);
      await trx.updateTable('members').set({ tier_source: 'stripe', comp_until: null }).where('id', '=', a.id).execute();
    });
    expect((await rewards(a.id))[0]).toMatchObject({ status: 'banked', banked_days: 30, comp_until: null });

    // Staff's own complimentary access (an end staff set) is not the reward's: nothing is banked.
    const b = await member('staff-comp@example.com');
    await earnMonth(b, 'staffset');
    await t.db
      .updateTable('members')
      .set({ comp_until: new Date(Date.now() + 90 * DAY) })
      .where('id', '=', b.id)
      .execute();
    expect(await bankUnusedRewardDays(t.db, b.id)).toBe(0);
  });
});

describe('fraud guards', () => {
  beforeEach(async () => {
    await createMilestone(t.db, { threshold: 1, description: 'a guarded sticker', reward: 'manual' });
  });

  it("holds a self-referral: the same mailbox, or a form sent from the referrer's signed-in browser", async () => {
    const a = await member('jo.ann@gmail.com');
    const variant = await referAndConfirm(a.referral_code, 'joann+news@googlemail.com');
    expect(await referral(variant.id)).toMatchObject({ status: 'held', flag: 'self' });
    const fromSession = await referAndConfirm(a.referral_code, 'someone-else@example.com', { signedIn: a.id });
    expect(await referral(fromSession.id)).toMatchObject({ status: 'held', flag: 'self' });
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 0, held: 2 });
    expect(await rewards(a.id)).toHaveLength(0);
  });

  it('never counts an unconfirmed referral', async () => {
    const a = await member('unconfirmed-ref@example.com');
    await refer(a.referral_code, 'never-confirms@example.com');
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 0, pending: 1 });
    expect(await rewards(a.id)).toHaveLength(0);
  });

  it('holds the third referral from one network within a day (IPv4 /24 and IPv6 /48)', async () => {
    const a = await member('network-ref@example.com');
    const v4 = [];
    for (const [i, ip] of ['203.0.113.5', '203.0.113.66', '203.0.113.200'].entries())
      v4.push(await referAndConfirm(a.referral_code, `n${i}@example.com`, { ip, ua: [CHROME, FIREFOX, SAFARI][i] }));
    expect((await Promise.all(v4.map((f) => referral(f.id)))).map((r) => r.status)).toEqual(['counted', 'counted', 'held']);
    expect((await referral(v4[2]!.id)).flag_detail).toBe('The 3rd referral from one network within 24 hours.');
    expect((await referAndConfirm(a.referral_code, 'n3@example.com', { ip: '192.0.2.1' })).id).toBeTruthy();

    const v6 = [];
    for (const [i, ip] of ['2001:db8:1:1::1', '2001:db8:1:ffff::2', '2001:0db8:0001::3'].entries())
      v6.push(await referAndConfirm(a.referral_code, `six${i}@example.com`, { ip, ua: [CHROME, FIREFOX, SAFARI][i] }));
    expect((await Promise.all(v6.map((f) => referral(f.id)))).map((r) => r.status)).toEqual(['counted', 'counted', 'held']);

    // Outside the window, the network is clean again.
    await t.db
      .updateTable('referrals')
      .set({ created_at: new Date(Date.now() - 25 * 3_600_000) })
      .where('referrer_id', '=', a.id)
      .execute();
    expect((await referral((await referAndConfirm(a.referral_code, 'n-later@example.com', { ip: '203.0.113.9' })).id)).status).toBe(
      'counted',
    );
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 6, held: 2 });
  });

  it('holds the fifth referral from one browser pattern within an hour', async () => {
    const a = await member('device-ref@example.com');
    const statuses = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await referral((await referAndConfirm(a.referral_code, `d${i}@example.com`, { ua: SAFARI })).id)).status);
    expect(statuses).toEqual(['counted', 'counted', 'counted', 'counted', 'held']);
    const held = await listHeldReferrals(t.db);
    expect(held.find((h) => h.referrer_email === 'device-ref@example.com')).toMatchObject({
      flag: 'device',
      flag_detail: 'The 5th referral from one kind of browser (safari/17 ios) within an hour.',
    });
    // Another browser is not part of the burst.
    expect((await referral((await referAndConfirm(a.referral_code, 'd-other@example.com', { ua: FIREFOX })).id)).status).toBe('counted');
  });

  it('holds a referral whose friend unsubscribes within 7 days of confirming; a later one stays counted', async () => {
    const a = await member('quick-ref@example.com');
    const quick = await referAndConfirm(a.referral_code, 'quick-leaver@example.com');
    const stayer = await referAndConfirm(a.referral_code, 'slow-leaver@example.com');
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 2 });
    await unsubscribeAll(t.db, quick.id, 'one-click');
    expect(await referral(quick.id)).toMatchObject({ status: 'held', flag: 'quick_unsubscribe', counted_at: null });
    await t.db
      .updateTable('referrals')
      .set({ confirmed_at: new Date(Date.now() - 8 * DAY) })
      .where('referred_id', '=', stayer.id)
      .execute();
    await unsubscribeAll(t.db, stayer.id, 'one-click');
    expect((await referral(stayer.id)).status).toBe('counted');
    expect(await referralSummary(t.db, a.id)).toMatchObject({ counted: 1, held: 1 });
    // The reward already given stays.
    expect(await rewards(a.id)).toHaveLength(1);

    // Other ways of leaving (staff, a bounce) are caught by the hourly sweep.
    const bounced = await referAndConfirm(a.referral_code, 'bouncer@example.com');
    await t.db.updateTable('members').set({ status: 'bounced', updated_at: new Date() }).where('id', '=', bounced.id).execute();
    expect(await holdQuickLeavers(t.db)).toBe(1);
    expect(await referral(bounced.id)).toMatchObject({ status: 'held', flag: 'quick_unsubscribe' });
  });

  it('lets staff approve (it counts, milestones follow) or reject a held referral, once', async () => {
    const a = await member('reviewed@example.com');
    const one = await referAndConfirm(a.referral_code, 'reviewed@example.com'.replace('@', '+1@'));
    const two = await referAndConfirm(a.referral_code, 'reviewed+2@example.com');
    expect(await rewards(a.id)).toHaveLength(0);
    await approveReferral(t.db, one.id, staffId);
    expect(await referral(one.id)).toMatchObject({ status: 'counted', reviewed_by: staffId });
    expect(await rewards(a.id)).toHaveLength(1);
    await rejectReferral(t.db, two.id, staffId);
    expect((await referral(two.id)).status).toBe('rejected');
    await expect(approveReferral(t.db, two.id, staffId)).rejects.toThrow(ConflictError);
    await expect(rejectReferral(t.db, '424242', staffId)).rejects.toThrow(NotFoundError);
    // An approved referral stays counted even if the friend then leaves quickly: staff decided.
    await unsubscribeAll(t.db, one.id, 'preferences');
    expect((await referral(one.id)).status).toBe('counted');
  });
});

describe("the member's own data", () => {
  it("exports their referral figures and rewards, not their friends' addresses", async () => {
    await createMilestone(t.db, { threshold: 1, description: 'an exported pin', reward: 'manual' });
    const a = await member('exporter@example.com');
    await referAndConfirm(a.referral_code, 'exported-friend@example.com');
    const data = await exportMemberData(t.db, a.id);
    expect(data.referrals).toMatchObject({
      counted: 1,
      pending: 0,
      held: 0,
      rewards: [{ milestone: 'an exported pin', referrals: 1, status: 'to_fulfil' }],
    });
    expect(JSON.stringify(data)).not.toContain('exported-friend@example.com');
  });
});

describe('staff figures', () => {
  it('lists the leaderboard, weeks, totals and the referral channel', async () => {
    const top = await member('top-referrer@example.com');
    for (let i = 0; i < 3; i++) await referAndConfirm(top.referral_code, `top${i}@example.com`);
    const board = await leaderboard(t.db);
    expect(board.find((b) => b.email === 'top-referrer@example.com')).toMatchObject({ counted: 3 });
    expect(board.map((b) => b.counted)).toEqual([...board.map((b) => b.counted)].sort((x, y) => y - x));
    const weeks = await referralsOverTime(t.db);
    expect(weeks).toHaveLength(12);
    expect(weeks.at(-1)!.counted).toBeGreaterThanOrEqual(3);
    const totals = await referralTotals(t.db);
    expect(totals.counted).toBe(
      Number(
        (
          await t.db
            .selectFrom('referrals')
            .select(sql<string>`count(*)`.as('n'))
            .where('status', '=', 'counted')
            .executeTakeFirstOrThrow()
        ).n,
      ),
    );
    const channel = await referralChannel(t.db);
    expect(channel.members).toBeGreaterThanOrEqual(3);
    expect(channel.confirmed).toBeGreaterThanOrEqual(3);
  });

  it('counts weeks from Monday 00:00 in the site time zone', async () => {
    // Monday 01:00 in Kiritimati (UTC+14) is Sunday 11:00 UTC: the zone's new week, UTC's old one.
    const zone = 'Pacific/Kiritimati';
    const { referred_id: id } = await t.db.selectFrom('referrals').select('referred_id').limit(1).executeTakeFirstOrThrow();
    await sql`update referrals set created_at = now() - interval '1 year' where referred_id = ${id}`.execute(t.db);
    const [before, beforeUtc] = [await referralsOverTime(t.db, 12, zone), await referralsOverTime(t.db, 12, 'UTC')];
    await sql`update referrals set created_at = (date_trunc('week', now() at time zone ${zone}) + interval '1 hour') at time zone ${zone}
              where referred_id = ${id}`.execute(t.db);
    const [after, afterUtc] = [await referralsOverTime(t.db, 12, zone), await referralsOverTime(t.db, 12, 'UTC')];
    const monday = after.at(-1)!.week;
    expect(new Date(`${monday}T00:00:00Z`).getUTCDay()).toBe(1);
    expect(after.at(-1)!.signedUp - before.at(-1)!.signedUp).toBe(1);
    // In UTC the same instant is a Sunday: it counts in the week of the Monday six days earlier.
    const { created_at } = await t.db.selectFrom('referrals').select('created_at').where('referred_id', '=', id).executeTakeFirstOrThrow();
    expect(created_at.getUTCDay()).toBe(0);
    const utcMonday = new Date(created_at.getTime() - 6 * 86_400_000).toISOString().slice(0, 10);
    expect(utcMonday < monday).toBe(true);
    const row = (weeks: typeof after, week: string) => weeks.find((w) => w.week === week)?.signedUp ?? 0;
    expect(row(afterUtc, utcMonday) - row(beforeUtc, utcMonday)).toBe(1);
    expect(row(afterUtc, monday) - row(beforeUtc, monday)).toBe(0);
  });
});
