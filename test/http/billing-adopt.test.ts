import { sql } from 'kysely';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { Browserless, runCli, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';

/**
 * Adopting existing Stripe subscriptions (members imported from Ghost/Substack/beehiiv), from an
 * empty database: the admin's button (through the worker), the CLI, the report, idempotence, a
 * Stripe that cannot be reached, and the webhooks that follow.
 */
let t: TestDatabase;
let server: RunningServer;
let stripe: StripeTestServer;
let client: Stripe;
let staff: Browserless;
let env: Record<string, string>;
const price: Record<'monthly' | 'yearly' | 'other', string> = { monthly: '', yearly: '', other: '' };
const subs: Record<string, string> = {};

/** What an import writes: a member, maybe with the Stripe customer id from the source's file. */
async function addMember(email: string, customer: string | null = null, status: 'active' | 'unsubscribed' = 'active', paid = false) {
  const row = await t.db
    .insertInto('members')
    .values({
      email,
      status,
      // An import maps a source's paid plan to a tier, paid via Stripe.
      tier_id: sql<string>`(select id from tiers where slug = ${paid ? 'gold' : 'free'})`,
      tier_source: paid ? 'stripe' : 'default',
      referral_code: `r${Math.random().toString(36).slice(2, 12)}`,
      stripe_customer_id: customer,
      source_platform: 'import',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

const memberState = () =>
  t.db
    .selectFrom('members as m')
    .innerJoin('tiers as t', 't.id', 'm.tier_id')
    .select(['m.email', 'm.status', 't.slug as tier', 'm.tier_source', 'm.stripe_customer_id', 'm.updated_at'])
    .orderBy('m.id')
    .execute();
const subscriptionState = () => t.db.selectFrom('subscriptions').selectAll().orderBy('stripe_subscription_id').execute();
const tierOf = async (email: string) =>
  (
    await t.db
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .select(['t.slug', 'm.tier_source'])
      .where(sql<string>`lower(m.email)`, '=', email.toLowerCase())
      .executeTakeFirstOrThrow()
  ).slug;

async function adoptFromAdmin() {
  const before = await t.db
    .selectFrom('stripe_syncs')
    .select(sql<string>`coalesce(max(id), 0)`.as('id'))
    .executeTakeFirstOrThrow();
  const res = await staff.request('/admin/tiers/sync', { method: 'POST', form: {} });
  expect(res.status).toBe(303);
  return waitFor(
    () =>
      t.db.selectFrom('stripe_syncs').selectAll().where('id', '>', before.id).where('status', 'in', ['done', 'failed']).executeTakeFirst(),
    { what: 'a finished Stripe sync', timeout: 30_000 },
  );
}

beforeAll(async () => {
  t = await createTestDatabase();
  await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  stripe = await startStripeTestServer();
  env = { STRIPE_SECRET_KEY: 'sk_test_hearth', STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret };
  server = await startServer({ databaseUrl: t.url, env });
  stripe.webhookUrl = `${server.url}/webhooks/stripe`;
  staff = new Browserless(server.url);
  await staff.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
  client = new Stripe('sk_test_x', { host: '127.0.0.1', port: stripe.port, protocol: 'http' });

  // The brand's old tool made these in its Stripe account: a product, its prices, customers, subscriptions.
  const product = await client.products.create({ name: 'Ghost Gold' });
  price.monthly = (
    await client.prices.create({ product: product.id, unit_amount: 800, currency: 'usd', recurring: { interval: 'month' } })
  ).id;
  price.yearly = (
    await client.prices.create({ product: product.id, unit_amount: 8000, currency: 'usd', recurring: { interval: 'year' } })
  ).id;
  price.other = (
    await client.prices.create({ product: product.id, unit_amount: 300, currency: 'usd', recurring: { interval: 'month' } })
  ).id;
  // The tier exists in Hearth, with those prices attached (Tiers → Attach).
  await t.db
    .insertInto('tiers')
    .values({
      slug: 'gold',
      name: 'Gold',
      paid: true,
      currency: 'usd',
      monthly_amount: 800,
      yearly_amount: 8000,
      stripe_monthly_price_id: price.monthly,
      stripe_yearly_price_id: price.yearly,
    })
    .execute();

  const sub = (name: string, customer: string, p: string, status = 'active') => {
    subs[name] = stripe.createSubscription({ customer, price: p, status }).id as string;
  };
  // Ann: imported with her customer id (Ghost's stripe_customer_id column).
  stripe.createCustomer({ id: 'cus_ann', email: 'ann@example.com' });
  await addMember('ann@example.com', 'cus_ann');
  sub('ann', 'cus_ann', price.monthly);
  // Bob: no customer id in the file; his Stripe email differs in case and in the domain's form.
  stripe.createCustomer({ id: 'cus_bob', email: 'Bob@BÜCHER.de' });
  await addMember('bob@xn--bcher-kva.de');
  sub('bob', 'cus_bob', price.yearly, 'past_due');
  // Cleo left the newsletter but still pays: adopted, and still not mailed.
  stripe.createCustomer({ id: 'cus_cleo', email: 'cleo@example.com' });
  await addMember('cleo@example.com', null, 'unsubscribed');
  sub('cleo', 'cus_cleo', price.monthly, 'trialing');
  // A payer who was not imported: unmatched.
  stripe.createCustomer({ id: 'cus_stranger', email: 'stranger@example.com' });
  sub('stranger', 'cus_stranger', price.monthly);
  // Erin's address is linked to another customer already: unmatched, Erin untouched.
  stripe.createCustomer({ id: 'cus_erin2', email: 'erin@example.com' });
  await addMember('erin@example.com', 'cus_erin1');
  sub('erin', 'cus_erin2', price.monthly);
  // Dave has a customer id but his subscription was canceled: reported, not linked.
  stripe.createCustomer({ id: 'cus_dave', email: 'dave@example.com' });
  await addMember('dave@example.com', 'cus_dave');
  sub('dave', 'cus_dave', price.monthly, 'canceled');
  // Fay pays on a price no tier has: not listed.
  stripe.createCustomer({ id: 'cus_fay', email: 'fay@example.com' });
  await addMember('fay@example.com');
  sub('fay', 'cus_fay', price.other);
  // Gina was imported as paying (Ghost said so) but Stripe has no subscription of hers: reported, left as she is.
  await addMember('gina@example.com', null, 'active', true);
  // Enough imported payers for three pages of 100; the first ten arrive from the import as Gold already.
  for (let i = 0; i < 230; i++) {
    const email = `payer${i}@example.com`;
    stripe.createCustomer({ id: `cus_payer${i}`, email });
    await addMember(email, i % 2 === 0 ? `cus_payer${i}` : null, 'active', i < 10);
    sub(`payer${i}`, `cus_payer${i}`, i % 3 === 0 ? price.yearly : price.monthly);
  }
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await stripe?.close();
  await t?.drop();
});

describe('adopting existing Stripe subscriptions', () => {
  it('leaves every member untouched when Stripe cannot be reached, mid-listing or at all, and says so', async () => {
    const before = await memberState();
    stripe.failListAfter(1); // page 2 of the first price fails
    const midway = await adoptFromAdmin();
    stripe.failListAfter(undefined);
    expect(midway).toMatchObject({ status: 'failed' });
    expect(midway.error).toMatch(/^Stripe could not be reached .*no member was changed\.$/);
    const page = await (await staff.request('/admin/tiers/sync')).text();
    expect(page).toContain('The last run failed: Stripe could not be reached');

    stripe.down = true;
    const cli = await runCli(['stripe:sync'], { DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, LOG_LEVEL: 'error', ...env });
    stripe.down = false;
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^hearth: stripe:sync \d+ failed: Stripe could not be reached .*no member was changed\.\n$/);
    expect(await memberState()).toEqual(before);
    expect(await subscriptionState()).toEqual([]);
  });

  it('links every matching subscription from the admin (through the worker), by customer id or email, and reports the rest', async () => {
    const requestsBefore = stripe.requests.length;
    const sync = await adoptFromAdmin();
    expect(sync).toMatchObject({ status: 'done', via: 'admin', subscriptions: 235, linked: 233, unchanged: 0, unmatched: 2 });
    // Stripe was only read: all pages of both prices, customers expanded; nothing created or charged.
    const calls = stripe.requests.slice(requestsBefore);
    expect(calls.every((c) => c.method === 'GET')).toBe(true);
    const lists = calls.filter((c) => c.path === '/v1/subscriptions');
    expect(lists.some((c) => c.query.includes('starting_after='))).toBe(true);
    expect(lists.every((c) => decodeURIComponent(c.query).includes('expand[0]=data.customer'))).toBe(true);

    expect(await tierOf('ann@example.com')).toBe('gold');
    expect(await tierOf('bob@xn--bcher-kva.de')).toBe('gold'); // matched by email, past due within the grace
    expect(await tierOf('cleo@example.com')).toBe('gold');
    expect(await tierOf('payer229@example.com')).toBe('gold');
    expect(await tierOf('erin@example.com')).toBe('free');
    expect(await tierOf('dave@example.com')).toBe('free');
    expect(await tierOf('fay@example.com')).toBe('free');
    const bob = await t.db
      .selectFrom('members')
      .select(['id', 'stripe_customer_id', 'tier_source'])
      .where('email', '=', 'bob@xn--bcher-kva.de')
      .executeTakeFirstOrThrow();
    expect(bob).toMatchObject({ stripe_customer_id: 'cus_bob', tier_source: 'stripe' });
    // Stored as the checkout path stores it.
    expect(
      await t.db
        .selectFrom('subscriptions')
        .select(['member_id', 'status', 'price_id'])
        .where('stripe_subscription_id', '=', subs.bob!)
        .executeTakeFirstOrThrow(),
    ).toEqual({ member_id: bob.id, status: 'past_due', price_id: price.yearly });
    // Leaving the newsletter is kept; nobody gets a "welcome, paid member" email for what they already had.
    expect(
      (await t.db.selectFrom('members').select('status').where('email', '=', 'cleo@example.com').executeTakeFirstOrThrow()).status,
    ).toBe('unsubscribed');
    expect(await t.db.selectFrom('outbox').select('id').where('subject', 'like', '%Welcome%').execute()).toEqual([]);
    // The start is recorded for the stats (MRR), marked as adopted.
    const started = await t.db
      .selectFrom('events')
      .select('data')
      .where('type', '=', 'subscription_started')
      .where('member_id', '=', bob.id)
      .execute();
    expect(started).toHaveLength(1);
    expect(started[0]!.data).toMatchObject({ adopted: true, mrr_cents: 667 });
    // Imported as Gold already: the tier stays, and the revenue is recorded once all the same.
    const payer0 = await t.db
      .selectFrom('events as e')
      .innerJoin('members as m', 'm.id', 'e.member_id')
      .select('e.data')
      .where('m.email', '=', 'payer0@example.com')
      .where('e.type', '=', 'subscription_started')
      .execute();
    expect(payer0.map((e) => e.data)).toEqual([expect.objectContaining({ adopted: true, mrr_cents: 667, subscription: subs.payer0 })]);
    expect(await tierOf('gina@example.com')).toBe('gold');

    const report = (await t.db.selectFrom('stripe_syncs').select('report').where('id', '=', sync.id).executeTakeFirstOrThrow()).report;
    expect(report).toMatchObject({ byEmail: 117, unmatchedTotal: 2, withoutSubscriptionTotal: 3 });
    expect((report as { unmatched: unknown[] }).unmatched).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          subscription: subs.stranger,
          customer: 'cus_stranger',
          email: 'stranger@example.com',
          reason: 'no_member',
        }),
        expect.objectContaining({ subscription: subs.erin, customer: 'cus_erin2', reason: 'member_has_other_customer' }),
      ]),
    );
    expect((report as { withoutSubscription: Array<{ email: string; customer: string | null }> }).withoutSubscription).toEqual([
      expect.objectContaining({ email: 'erin@example.com', customer: 'cus_erin1' }),
      expect.objectContaining({ email: 'dave@example.com', customer: 'cus_dave' }),
      expect.objectContaining({ email: 'gina@example.com', customer: null }),
    ]);
    const page = await (await staff.request('/admin/tiers/sync')).text();
    expect(page).toContain('235 subscriptions on 2 tier prices: 233 linked, 0 already linked, 2 unmatched (117 matched by email)');
    expect(page).toContain('stranger@example.com');
    expect(page).toContain('the member with this email is linked to another Stripe customer');
    expect(page).toContain('cus_dave');
  });

  it('changes nothing when run again (the CLI runs it directly)', async () => {
    const members = await memberState();
    const subscriptions = await subscriptionState();
    const events = await t.db
      .selectFrom('events')
      .select(sql<string>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    const cli = await runCli(['stripe:sync'], { DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, LOG_LEVEL: 'error', ...env });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^stripe:sync \d+: 235 subscriptions on 2 tier prices: 0 linked, 233 already linked, 2 unmatched/);
    expect(cli.stdout).toContain(`${subs.stranger} cus_stranger stranger@example.com gold active: no member has this customer id or email`);
    expect(cli.stdout).toContain('cus_dave');
    expect(cli.stdout).toMatch(/\d+ gina@example\.com -\n/);
    expect(await memberState()).toEqual(members);
    expect(await subscriptionState()).toEqual(subscriptions);
    expect(
      await t.db
        .selectFrom('events')
        .select(sql<string>`count(*)`.as('n'))
        .executeTakeFirstOrThrow(),
    ).toEqual(events);
  });

  it('then lets webhooks act on the adopted members: invoice.paid and customer.subscription.deleted', async () => {
    // Bob pays his overdue invoice: Stripe's subscription is active again.
    Object.assign(stripe.objects.get(subs.bob!)!, { status: 'active' });
    expect(
      await stripe.sendEvent('invoice.paid', {
        id: 'in_bob',
        object: 'invoice',
        customer: 'cus_bob',
        parent: { subscription_details: { subscription: subs.bob } },
      }),
    ).toBe(200);
    expect(
      (await t.db.selectFrom('subscriptions').select('status').where('stripe_subscription_id', '=', subs.bob!).executeTakeFirstOrThrow())
        .status,
    ).toBe('active');
    expect(await tierOf('bob@xn--bcher-kva.de')).toBe('gold');
    // Ann cancels: she goes back to free; Bob and the others keep Gold.
    await stripe.updateSubscription(subs.ann!, { status: 'canceled' });
    expect(await tierOf('ann@example.com')).toBe('free');
    expect(await tierOf('bob@xn--bcher-kva.de')).toBe('gold');
    expect(await tierOf('payer0@example.com')).toBe('gold');
    await waitFor(
      () =>
        t.db
          .selectFrom('outbox')
          .select('id')
          .where(sql<boolean>`'ann@example.com' = any(to_addresses)`)
          .where('subject', 'like', '%ended%')
          .execute(),
      { until: (r) => r.length === 1, what: "Ann's membership-ended email" },
    );
    // A payer who was unmatched and is imported later is adopted on the next run.
    await addMember('stranger@example.com');
    const again = await adoptFromAdmin();
    expect(again).toMatchObject({ status: 'done', linked: 1, unmatched: 1 });
    expect(await tierOf('stranger@example.com')).toBe('gold');
  });

  it('runs through the API too: POST queues a run (owner/admin), GET answers its report', async () => {
    const owner = await t.db.selectFrom('staff_users').select('id').where('email', '=', 'owner@example.com').executeTakeFirstOrThrow();
    const editor = await createStaffUser(t.db, { email: 'editor@example.com', password: 'a long editor password', role: 'editor' });
    const call = async (token: string, method: string, path: string) =>
      fetch(server.url + path, { method, headers: { authorization: `Bearer ${token}` } });
    const editorToken = (await createApiToken(t.db, editor.id, 'editor')).token;
    expect((await call(editorToken, 'POST', '/api/v1/billing/sync')).status).toBe(403);
    const token = (await createApiToken(t.db, owner.id, 'sync')).token;
    const queued = await call(token, 'POST', '/api/v1/billing/sync');
    expect(queued.status).toBe(202);
    const { sync } = (await queued.json()) as { sync: { id: string; status: string; via: string } };
    expect(sync).toMatchObject({ status: 'queued', via: 'api' });
    const done = await waitFor(
      async () => ((await (await call(token, 'GET', `/api/v1/billing/sync/${sync.id}`)).json()) as { sync: Record<string, unknown> }).sync,
      { until: (s) => s.status === 'done', what: 'the API sync to finish' },
    );
    expect(done).toMatchObject({
      linked: 0,
      unchanged: 233,
      unmatched: 1,
      report: { by_email: 0, unmatched_total: 1, without_subscription_total: 4 },
    });
    expect((await call(token, 'GET', '/api/v1/billing/sync/999999')).status).toBe(404);
  });
});
