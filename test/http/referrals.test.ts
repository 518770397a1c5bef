import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { confirmToken } from '../../src/domain/members/links.ts';
import { confirmSubscription, subscribe } from '../../src/domain/members/subscribe.ts';
import { createMilestone } from '../../src/domain/referrals/milestones.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';
import { waitFor } from '../helpers/wait.ts';
import { pressEmailLink } from '../helpers/links.ts';

/**
 * Referrals over HTTP against the real server: /r/:code into confirmation and a milestone email,
 * the staff pages and their guards, and complimentary days stacking with a real (test) Stripe
 * subscription driven by verified webhooks.
 */
let t: TestDatabase;
let server: RunningServer;
let stripe: StripeTestServer;
const staff: Record<'owner' | 'editor' | 'moderator', Browserless> = {
  owner: new Browserless(''),
  editor: new Browserless(''),
  moderator: new Browserless(''),
};
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  stripe = await startStripeTestServer();
  server = await startServer({
    databaseUrl: t.url,
    env: { STRIPE_SECRET_KEY: 'sk_test_hearth', STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret },
  });
  stripe.webhookUrl = `${server.url}/webhooks/stripe`;
  for (const role of ['owner', 'editor', 'moderator'] as const) {
    await createStaffUser(t.db, { email: `${role}@example.com`, password: 'a long staff password', role });
    staff[role].base = server.url;
    await staff[role].request('/admin/signin', {
      method: 'POST',
      form: { email: `${role}@example.com`, password: 'a long staff password' },
    });
  }
});
afterAll(async () => {
  await server?.stop();
  await stripe?.close();
  await t?.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
  await t.db.updateTable('referral_milestones').set({ archived_at: new Date() }).where('archived_at', 'is', null).execute();
});

const post = (path: string, fields: Record<string, string>, cookie = '') =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, ...(cookie ? { cookie } : {}) },
    redirect: 'manual',
  });

async function mailText(email: string, subjectPart: string, count = 1): Promise<string[]> {
  const rows = await waitFor(
    () =>
      t.db
        .selectFrom('outbox')
        .select('text')
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .where('subject', 'like', `%${subjectPart}%`)
        .orderBy('id')
        .execute(),
    {
      until: (r) => r.length >= count,
      what: `${count} email(s) "${subjectPart}" to ${email}`,
    },
  );
  return rows.map((r) => r.text ?? '');
}

/** Until the worker has no email job left to run, so that "exactly one email" is final. */
async function mailJobsDone() {
  await waitFor(
    async () =>
      Number(
        (
          await sql<{
            n: string;
          }>`select count(*) as n from graphile_worker.jobs where task_identifier in ('send_email', 'referral_milestone_email')`.execute(
            t.db,
          )
        ).rows[0]!.n,
      ),
    { until: (n) => n === 0, what: 'no email job left' },
  );
}
const local = (link: string) => link.replace(/^http:\/\/[^/]+/, server.url);

async function signIn(email: string): Promise<string> {
  await post('/signin', { email });
  const [text] = await mailText(email, 'Your sign-in link');
  const link = /(http:\/\/\S+\/signin\/verify\?token=\S+)/.exec(text ?? '')![1]!;
  const res = await pressEmailLink(local(link));
  return res.headers
    .getSetCookie()
    .find((c) => c.startsWith('hearth_member='))!
    .split(';')[0]!;
}
const account = async (cookie: string) => (await fetch(server.url + '/account', { headers: { cookie } })).text();
const memberId = async (email: string) =>
  (await t.db.selectFrom('members').select('id').where('email', '=', email).executeTakeFirstOrThrow()).id;
const tierOf = (email: string) =>
  t.db
    .selectFrom('members as m')
    .innerJoin('tiers as t', 't.id', 'm.tier_id')
    .select(['t.slug', 'm.tier_source', 'm.comp_until'])
    .where('m.email', '=', email)
    .executeTakeFirstOrThrow();

let ip = 0;
/** A friend referred and confirmed through the domain (a distinct network each), as the server would. */
async function friendConfirms(code: string, email: string) {
  const ctx = { secret: TEST_SECRET, siteUrl: server.url };
  await subscribe(t.db, ctx, {
    email,
    ref: code,
    clientIp: `198.51.${100 + ++ip}.1`,
    userAgent: `Mozilla/5.0 (Windows NT 10.0) Chrome/${100 + ip}.0 Safari/537.36`,
  });
  await confirmSubscription(t.db, ctx, confirmToken(TEST_SECRET, await memberId(email), []));
}

describe('a referral from link to milestone', () => {
  it('credits the referrer when the friend confirms, mails the milestone once, and shows the next one', async () => {
    await createMilestone(t.db, { threshold: 1, description: 'a sticker', reward: 'manual' });
    await createMilestone(t.db, { threshold: 3, description: 'a mug', reward: 'manual' });
    const cookie = await signIn('sharer@example.com');
    const page = await account(cookie);
    const code = /data-testid="referral-link">[^<]*\/r\/([a-z0-9]+)</.exec(page)![1]!;
    expect(page).toContain('Next milestone: <strong>a sticker</strong> at 1 friend, 1 more to go.');

    const hop = await fetch(`${server.url}/r/${code}`, { redirect: 'manual' });
    expect(hop.headers.get('location')).toBe(`/join?ref=${code}&utm_source=referral&utm_medium=member`);
    expect((await post('/subscribe', { email: 'newfriend@example.com', ref: code, utm_source: 'referral' })).status).toBe(303);
    expect(await account(cookie)).toContain('0 friends have joined through your link (1 not confirmed yet)');
    const [confirmMail] = await mailText('newfriend@example.com', 'onfirm');
    const confirmLink = local(/(http:\/\/\S+\/confirm\?token=\S+)/.exec(confirmMail!)![1]!);
    // A mail scanner opening the link counts nothing.
    expect((await fetch(confirmLink)).status).toBe(200);
    expect(await account(cookie)).toContain('0 friends have joined through your link (1 not confirmed yet)');
    expect((await pressEmailLink(confirmLink)).status).toBe(200);

    const after = await account(cookie);
    expect(after).toContain('1 friend has joined through your link.');
    expect(after).toContain('Next milestone: <strong>a mug</strong> at 3 friends, 2 more to go.');
    expect(after).toMatch(/<strong>a sticker<\/strong> \(1 friend\):\s*on its way/);
    const mails = await mailText('sharer@example.com', 'You reached a milestone: a sticker');
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain('Next: at 3 friends, a mug.');
    await mailJobsDone();
    const all = await t.db
      .selectFrom('outbox')
      .select('id')
      .where(sql<boolean>`'sharer@example.com' = any(to_addresses)`)
      .where('subject', 'like', 'You reached a milestone%')
      .execute();
    expect(all).toHaveLength(1);
  });

  it("holds a self-referral sent from the referrer's own signed-in browser", async () => {
    const cookie = await signIn('selfish@example.com');
    const code = /\/r\/([a-z0-9]+)</.exec(await account(cookie))![1]!;
    expect((await post('/subscribe', { email: 'my-other-address@example.com', ref: code }, cookie)).status).toBe(303);
    const row = await t.db
      .selectFrom('referrals')
      .select(['flag', 'status'])
      .where('referred_id', '=', await memberId('my-other-address@example.com'))
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ flag: 'self', status: 'pending' });
  });
});

describe('the staff pages', () => {
  it('shows the figures to those who read members, and refuses everyone else', async () => {
    const page = await staff.editor.request('/admin/referrals');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('The referral channel');
    expect(html).toContain('data-testid="leaderboard"');
    expect(html).toContain('sharer@example.com');
    expect(html).not.toContain('Approve'); // an editor reads, does not decide
    expect((await staff.moderator.request('/admin/referrals')).status).toBe(403);
    expect((await staff.editor.request('/admin/referrals', { method: 'POST', form: { action: 'reject', referral: '1' } })).status).toBe(
      403,
    );
    expect((await staff.editor.request('/admin/referrals/milestones')).status).toBe(403);
    expect((await fetch(server.url + '/admin/referrals', { redirect: 'manual' })).status).toBe(303);
    expect(
      (
        await staff.owner.request('/admin/referrals', {
          method: 'POST',
          form: { action: 'approve', referral: '1' },
          headers: { origin: 'https://evil.example' },
        })
      ).status,
    ).toBe(403);
  });

  it('lets an owner define milestones, with clear refusals', async () => {
    const bad = await staff.owner.request('/admin/referrals/milestones', {
      method: 'POST',
      form: { action: 'create', threshold: 'ten', description: 'x', reward: 'manual' },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('The number of referrals must be a whole number.');
    const free = await staff.owner.request('/admin/referrals/milestones', {
      method: 'POST',
      form: { action: 'create', threshold: '10', description: 'free days', reward: 'comp', tier: 'free', days: '30' },
    });
    expect(free.status).toBe(400);
    const ok = await staff.owner.request('/admin/referrals/milestones', {
      method: 'POST',
      form: { action: 'create', threshold: '10', description: 'a month of Supporter', reward: 'comp', tier: 'supporter', days: '30' },
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Milestone added: 10 referrals.');
    const again = await staff.owner.request('/admin/referrals/milestones', {
      method: 'POST',
      form: { action: 'create', threshold: '10', description: 'twice', reward: 'manual' },
    });
    expect(again.status).toBe(409);
    const id = (
      await t.db
        .selectFrom('referral_milestones')
        .select('id')
        .where('threshold', '=', 10)
        .where('archived_at', 'is', null)
        .executeTakeFirstOrThrow()
    ).id;
    expect(
      (await staff.owner.request('/admin/referrals/milestones', { method: 'POST', form: { action: 'archive', milestone: id } })).status,
    ).toBe(200);
    expect(
      (await staff.owner.request('/admin/referrals/milestones', { method: 'POST', form: { action: 'archive', milestone: id } })).status,
    ).toBe(404);
  });

  it('lets an admin approve or reject a held referral and mark a reward fulfilled', async () => {
    await createMilestone(t.db, { threshold: 1, description: 'a badge', reward: 'manual' });
    const cookie = await signIn('held-referrer@example.com');
    const code = /\/r\/([a-z0-9]+)</.exec(await account(cookie))![1]!;
    await friendConfirms(code, 'held-referrer+1@example.com');
    await friendConfirms(code, 'held-referrer+2@example.com');
    const list = await (await staff.owner.request('/admin/referrals')).text();
    expect(list).toContain('held-referrer+1@example.com');
    expect(list).toContain('Self-referral');

    const one = await memberId('held-referrer+1@example.com');
    expect((await staff.owner.request('/admin/referrals', { method: 'POST', form: { action: 'approve', referral: one } })).status).toBe(
      200,
    );
    expect((await staff.owner.request('/admin/referrals', { method: 'POST', form: { action: 'approve', referral: one } })).status).toBe(
      409,
    );
    expect(
      (
        await staff.owner.request('/admin/referrals', {
          method: 'POST',
          form: { action: 'reject', referral: await memberId('held-referrer+2@example.com') },
        })
      ).status,
    ).toBe(200);
    expect((await staff.owner.request('/admin/referrals', { method: 'POST', form: { action: 'reject', referral: 'abc' } })).status).toBe(
      404,
    );
    expect((await staff.owner.request('/admin/referrals', { method: 'POST', form: { action: 'explode' } })).status).toBe(400);
    expect(await account(cookie)).toContain('1 friend has joined through your link.');

    const reward = await t.db
      .selectFrom('referral_rewards')
      .select(['id', 'status'])
      .where('member_id', '=', await memberId('held-referrer@example.com'))
      .executeTakeFirstOrThrow();
    expect(reward.status).toBe('to_fulfil');
    expect((await staff.owner.request('/admin/referrals', { method: 'POST', form: { action: 'fulfil', reward: reward.id } })).status).toBe(
      200,
    );
    expect((await t.db.selectFrom('referral_rewards').select('status').where('id', '=', reward.id).executeTakeFirstOrThrow()).status).toBe(
      'fulfilled',
    );
    expect(await mailText('held-referrer@example.com', 'You reached a milestone: a badge')).toHaveLength(1);
  });
});

describe('complimentary days and a paid subscription', () => {
  let tierReady = false;
  async function paidTier() {
    if (tierReady) return;
    const owner = await t.db.selectFrom('staff_users').select('id').where('role', '=', 'owner').executeTakeFirstOrThrow();
    const token = (await createApiToken(t.db, owner.id, 'referrals')).token;
    const res = await fetch(server.url + '/api/v1/tiers', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Gold', monthly_amount: 900, currency: 'usd' }),
    });
    expect(res.status).toBe(201);
    tierReady = true;
  }
  async function pay(cookie: string) {
    const checkout = await post('/account/checkout', { tier: 'gold', interval: 'month' }, cookie);
    const session = checkout.headers.get('location')!.split('/').pop()!;
    await stripe.completeCheckout(session);
    const sub = [...stripe.objects.values()].filter((o) => o.object === 'subscription').at(-1)!;
    return sub.id as string;
  }
  const days = (d: Date | null) => (d!.getTime() - Date.now()) / 86_400_000;

  it('banks the days of a paying member and starts them when the subscription ends', async () => {
    await paidTier();
    await createMilestone(t.db, { threshold: 1, description: 'a month of Gold', reward: 'comp', tierSlug: 'gold', compDays: 30 });
    const cookie = await signIn('paying-referrer@example.com');
    const subscription = await pay(cookie);
    expect(await tierOf('paying-referrer@example.com')).toMatchObject({ slug: 'gold', tier_source: 'stripe' });
    const code = /\/r\/([a-z0-9]+)</.exec(await account(cookie))![1]!;
    await friendConfirms(code, 'friend-of-payer@example.com');
    expect(await tierOf('paying-referrer@example.com')).toMatchObject({ slug: 'gold', tier_source: 'stripe', comp_until: null });
    expect(await account(cookie)).toContain('30 days of Gold membership, starting when your current membership ends');
    expect((await mailText('paying-referrer@example.com', 'You reached a milestone: a month of Gold'))[0]).toContain(
      'they start when your current membership ends',
    );

    await stripe.updateSubscription(subscription, { status: 'canceled' });
    const after = await tierOf('paying-referrer@example.com');
    expect(after).toMatchObject({ slug: 'gold', tier_source: 'comp' });
    expect(days(after.comp_until)).toBeCloseTo(30, 1);
  });

  it('keeps the unused days of a member who starts paying during them', async () => {
    await paidTier();
    await createMilestone(t.db, { threshold: 1, description: 'a Gold month', reward: 'comp', tierSlug: 'gold', compDays: 30 });
    const cookie = await signIn('comp-then-pay@example.com');
    const code = /\/r\/([a-z0-9]+)</.exec(await account(cookie))![1]!;
    await friendConfirms(code, 'friend-of-comp@example.com');
    expect(await tierOf('comp-then-pay@example.com')).toMatchObject({ slug: 'gold', tier_source: 'comp' });
    expect(await account(cookie)).toMatch(/Gold membership, on us until/);

    const subscription = await pay(cookie);
    expect(await tierOf('comp-then-pay@example.com')).toMatchObject({ slug: 'gold', tier_source: 'stripe', comp_until: null });
    const reward = await t.db
      .selectFrom('referral_rewards')
      .select(['status', 'banked_days'])
      .where('member_id', '=', await memberId('comp-then-pay@example.com'))
      .executeTakeFirstOrThrow();
    expect(reward).toEqual({ status: 'banked', banked_days: 30 });

    await stripe.updateSubscription(subscription, { status: 'canceled' });
    const after = await tierOf('comp-then-pay@example.com');
    expect(after).toMatchObject({ slug: 'gold', tier_source: 'comp' });
    expect(days(after.comp_until)).toBeCloseTo(30, 1);
  });
});
