import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPost } from '../../src/domain/content/editor.ts';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { heard, type RunningServer, startServer } from '../helpers/server.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';
import { waitFor } from '../helpers/wait.ts';
import { pressEmailLink } from '../helpers/links.ts';

/** Paid tiers through the real stripe-node SDK and a local Stripe-compatible server. */
let t: TestDatabase;
let server: RunningServer;
let stripe: StripeTestServer;
let token = '';
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  token = (await createApiToken(t.db, owner.id, 'billing')).token;
  stripe = await startStripeTestServer();
  server = await startServer({
    databaseUrl: t.url,
    env: { STRIPE_SECRET_KEY: 'sk_test_hearth', STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret },
  });
  stripe.webhookUrl = `${server.url}/webhooks/stripe`;
});
afterAll(async () => {
  await server?.stop();
  await stripe?.close();
  await t.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
});

const post = (path: string, fields: Record<string, string>, cookie = '') =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, ...(cookie ? { cookie } : {}) },
    redirect: 'manual',
  });

async function signIn(email: string): Promise<string> {
  await post('/signin', { email });
  const link = await waitFor(
    async () => {
      const row = await t.db
        .selectFrom('outbox')
        .select('text')
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .where('subject', 'like', 'Your sign-in link%')
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return /(http:\/\/\S+\/signin\/verify\?token=\S+)/.exec(row?.text ?? '')?.[1];
    },
    { what: `a sign-in email to ${email}` },
  );
  const res = await pressEmailLink(link.replace(/^http:\/\/[^/]+/, server.url));
  return res.headers
    .getSetCookie()
    .find((c) => c.startsWith('hearth_member='))!
    .split(';')[0]!;
}
async function mailTo(email: string, subjectPart: string): Promise<number> {
  const rows = await waitFor(
    () =>
      t.db
        .selectFrom('outbox')
        .select('id')
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .where('subject', 'like', `%${subjectPart}%`)
        .execute(),
    {
      until: (r) => r.length > 0,
      timeout: 30_000,
      what: `an email "${subjectPart}" to ${email}`,
    },
  );
  return rows.length;
}
const tierOf = async (email: string) =>
  (
    await t.db
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .select('t.slug')
      .where('m.email', '=', email)
      .executeTakeFirstOrThrow()
  ).slug;

describe('paid tiers', () => {
  it('creates a tier with its product and prices in Stripe', async () => {
    const res = await fetch(server.url + '/api/v1/tiers', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Gold', monthly_amount: 900, yearly_amount: 9000, currency: 'usd' }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { tier: { slug: string; paid: boolean } }).tier).toMatchObject({ slug: 'gold', paid: true });
    const row = await t.db.selectFrom('tiers').selectAll().where('slug', '=', 'gold').executeTakeFirstOrThrow();
    expect(stripe.objects.get(row.stripe_product_id!)).toMatchObject({ name: 'Gold' });
    expect(stripe.objects.get(row.stripe_monthly_price_id!)).toMatchObject({
      unit_amount: 900,
      currency: 'usd',
      recurring: { interval: 'month' },
    });
    expect(stripe.objects.get(row.stripe_yearly_price_id!)).toMatchObject({ unit_amount: 9000, recurring: { interval: 'year' } });
    const bad = await fetch(server.url + '/api/v1/tiers', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Cheap', monthly_amount: 1, currency: 'usd' }),
    });
    expect(bad.status).toBe(400);
  });

  it('takes a member through Checkout; verified webhooks make them gold; they read the gold post', async () => {
    await createPost(
      t.db,
      {
        title: 'Gold letter',
        slug: 'gold-letter',
        markdown: 'Teaser.\n\n<!--more-->\n\nGold only text.',
        visibility: 'tiers',
        tiers: ['gold'],
        status: 'published',
      },
      null,
    );
    await heard(server, t.db);
    const cookie = await signIn('payer@example.com');
    const account = await (await fetch(server.url + '/account', { headers: { cookie } })).text();
    expect(account).toContain('$9.00 a month');
    const checkout = await post('/account/checkout', { tier: 'gold', interval: 'month' }, cookie);
    expect(checkout.status).toBe(303);
    const url = checkout.headers.get('location')!;
    expect(url).toMatch(new RegExp(`^${stripe.url}/checkout/cs_test\\d+$`));
    const session = stripe.objects.get(url.split('/').pop()!)!;
    expect(session).toMatchObject({
      mode: 'subscription',
      client_reference_id: expect.any(String),
      allow_promotion_codes: 'true',
      metadata: { member_id: expect.any(String) },
    });
    const create = stripe.requests.find((r) => r.path === '/v1/checkout/sessions');
    expect(create?.idempotencyKey).toMatch(/^checkout-/);

    expect(await tierOf('payer@example.com')).toBe('free');
    expect(await (await fetch(`${server.url}/posts/gold-letter`, { headers: { cookie } })).text()).not.toContain('Gold only text.');
    await stripe.completeCheckout(session.id as string);
    expect(await tierOf('payer@example.com')).toBe('gold');
    expect(await (await fetch(`${server.url}/posts/gold-letter`, { headers: { cookie } })).text()).toContain('Gold only text.');

    expect(await mailTo('payer@example.com', 'Welcome, Gold member')).toBe(1);
    const started = await t.db
      .selectFrom('events as e')
      .innerJoin('members as m', 'm.id', 'e.member_id')
      .select('e.data')
      .where('m.email', '=', 'payer@example.com')
      .where('e.type', '=', 'subscription_started')
      .execute();
    expect(started).toHaveLength(1);
    expect(started[0]!.data).toMatchObject({ mrr_cents: 900 });

    const portal = await post('/account/billing', {}, cookie);
    expect(portal.headers.get('location')).toMatch(new RegExp(`^${stripe.url}/portal/`));
  });

  it('keeps access while past due (grace), ends it when the subscription is cancelled', async () => {
    const sub = [...stripe.objects.values()].find((o) => o.object === 'subscription')!;
    // Cancelled at the period's end: still active (and entitled) until Stripe ends it.
    await stripe.updateSubscription(sub.id as string, { cancel_at_period_end: true });
    expect(await tierOf('payer@example.com')).toBe('gold');
    expect(
      (
        await t.db
          .selectFrom('subscriptions')
          .select('cancel_at_period_end')
          .where('stripe_subscription_id', '=', sub.id as string)
          .executeTakeFirstOrThrow()
      ).cancel_at_period_end,
    ).toBe(true);
    await stripe.updateSubscription(sub.id as string, { status: 'past_due' });
    expect(await stripe.sendEvent('invoice.payment_failed', { id: 'in_failed', object: 'invoice', subscription: sub.id })).toBe(200);
    expect(await tierOf('payer@example.com')).toBe('gold');
    expect(await mailTo('payer@example.com', 'did not go through')).toBe(1);
    await stripe.updateSubscription(sub.id as string, { status: 'canceled' });
    expect(await tierOf('payer@example.com')).toBe('free');
    expect(await mailTo('payer@example.com', 'membership has ended')).toBe(1);
  });

  it('refuses a forged signature (401), acknowledges unknown types (200), and converges whatever the order or repetition', async () => {
    const sub = [...stripe.objects.values()].find((o) => o.object === 'subscription')!;
    expect(await stripe.sendEvent('customer.subscription.updated', sub, { secret: 'whsec_forged' })).toBe(401);
    expect(await stripe.sendEvent('charge.refunded', { id: 'ch_1' })).toBe(200);
    // A subscription made elsewhere in the Stripe account, for a customer we do not know: acknowledged, ignored.
    stripe.objects.set('sub_foreign', {
      id: 'sub_foreign',
      object: 'subscription',
      customer: 'cus_foreign',
      status: 'active',
      cancel_at_period_end: false,
      metadata: { member_id: 'not-a-number' },
      items: { object: 'list', data: [] },
    });
    expect(await stripe.sendEvent('customer.subscription.created', { id: 'sub_foreign' })).toBe(200);
    // A late "created" for a subscription that Stripe now says is canceled: re-read, stays free.
    expect(await stripe.sendEvent('customer.subscription.created', { ...sub, status: 'active' })).toBe(200);
    expect(await tierOf('payer@example.com')).toBe('free');
    // The same event twice is handled once.
    await t.db
      .updateTable('members')
      .set({ tier_id: sql<string>`(select id from tiers where slug='gold')` as unknown as string, tier_source: 'stripe' })
      .where('email', '=', 'payer@example.com')
      .execute();
    Object.assign(sub, { status: 'active' });
    expect(await stripe.sendEvent('customer.subscription.updated', sub, { id: 'evt_same' })).toBe(200);
    Object.assign(sub, { status: 'canceled' });
    expect(await stripe.sendEvent('customer.subscription.updated', sub, { id: 'evt_same' })).toBe(200);
    expect(await tierOf('payer@example.com')).toBe('gold'); // the replay changed nothing
    const stored = await t.db.selectFrom('stripe_events').select('id').where('id', '=', 'evt_same').execute();
    expect(stored).toHaveLength(1);
  });

  it('lets staff create a tier from the admin and attach existing Stripe prices, checked in Stripe', async () => {
    const { Browserless } = await import('../helpers/server.ts');
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    const created = await s.request('/admin/tiers', {
      method: 'POST',
      form: { action: 'create', name: 'Silver', monthly: '5.50', yearly: '', currency: 'USD', trial_days: '14' },
    });
    expect(created.status).toBe(200);
    expect(await created.text()).toMatch(/Tier (&quot;|")Silver(&quot;|") created/);
    const silver = await t.db.selectFrom('tiers').selectAll().where('slug', '=', 'silver').executeTakeFirstOrThrow();
    expect(silver).toMatchObject({ monthly_amount: 550, yearly_amount: null, trial_days: 14, currency: 'usd' });
    // A zero-decimal currency: ¥600 is 600 in Stripe's minor units (not 60000), and the list shows ¥600.
    const yen = await s.request('/admin/tiers', {
      method: 'POST',
      form: { action: 'create', name: 'Yen', monthly: '600', yearly: '', currency: 'JPY', trial_days: '0' },
    });
    expect(yen.status).toBe(200);
    expect(await yen.text()).toContain('<td>¥600</td>');
    expect(await t.db.selectFrom('tiers').select('monthly_amount').where('slug', '=', 'yen').executeTakeFirstOrThrow()).toEqual({
      monthly_amount: 600,
    });
    // An amount off in yen is whole yen too, and the offers list writes it so.
    const offer = await s.request('/admin/offers', {
      method: 'POST',
      form: { action: 'create', kind: 'link', name: 'Yen off', tier: 'yen', value: '100', type: 'amount', duration: 'once' },
    });
    expect(offer.status).toBe(200);
    expect(await offer.text()).toContain('¥100 off');
    expect(await t.db.selectFrom('offers').select('amount_off').where('name', '=', 'Yen off').executeTakeFirstOrThrow()).toEqual({
      amount_off: 100,
    });

    const { default: Stripe } = await import('stripe');
    const client = new Stripe('sk_test_x', { host: '127.0.0.1', port: stripe.port, protocol: 'http' });
    const product = await client.products.create({ name: 'Legacy' });
    const yearly = await client.prices.create({ product: product.id, unit_amount: 4800, currency: 'usd', recurring: { interval: 'year' } });
    const wrong = await s.request('/admin/tiers', { method: 'POST', form: { action: 'attach', tier: 'silver', monthly_price: yearly.id } });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('is not an active monthly recurring price');
    expect(
      (await s.request('/admin/tiers', { method: 'POST', form: { action: 'attach', tier: 'silver', yearly_price: 'price_nope' } })).status,
    ).toBe(400);
    expect(
      (await s.request('/admin/tiers', { method: 'POST', form: { action: 'attach', tier: 'silver', yearly_price: yearly.id } })).status,
    ).toBe(200);
    expect(
      await t.db
        .selectFrom('tiers')
        .select(['stripe_yearly_price_id', 'yearly_amount'])
        .where('slug', '=', 'silver')
        .executeTakeFirstOrThrow(),
    ).toEqual({ stripe_yearly_price_id: yearly.id, yearly_amount: 4800 });
  });

  it('refuses a reused idempotency key with other parameters, as Stripe does, and replays it with the same ones', async () => {
    const { default: Stripe } = await import('stripe');
    const client = new Stripe('sk_test_x', { host: '127.0.0.1', port: stripe.port, protocol: 'http' });
    const first = await client.customers.create({ email: 'key@example.com' }, { idempotencyKey: 'same-key' });
    const again = await client.customers.create({ email: 'key@example.com' }, { idempotencyKey: 'same-key' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    const other = client.customers.create({ email: 'other@example.com' }, { idempotencyKey: 'same-key' });
    await expect(other).rejects.toThrow(Stripe.errors.StripeIdempotencyError);
    await expect(other).rejects.toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
    // Another endpoint under the same key is refused too.
    await expect(client.products.create({ name: 'X' }, { idempotencyKey: 'same-key' })).rejects.toThrow(
      Stripe.errors.StripeIdempotencyError,
    );
  });

  it('opens Checkout from two pages within a minute (two sessions), replays a double click, and never answers 500', async () => {
    const cookie = await signIn('twice@example.com');
    const open = async (fields: Record<string, string>) => {
      const res = await post('/account/checkout', { tier: 'gold', interval: 'month', ...fields }, cookie);
      expect(res.status).toBe(303);
      return res.headers.get('location')!;
    };
    // A double click is one session; tried again if the minute turned between the two clicks.
    let fromPost = '';
    for (let attempt = 0; attempt < 2; attempt++) {
      const minute = Math.floor(Date.now() / 60_000);
      fromPost = await open({ return: '/posts/gold-letter' });
      const doubleClick = await open({ return: '/posts/gold-letter' });
      if (Math.floor(Date.now() / 60_000) !== minute) continue;
      expect(doubleClick).toBe(fromPost);
      break;
    }
    // From another page within the same minute: other parameters (success_url), another session.
    const fromAccount = await open({});
    expect(fromAccount).not.toBe(fromPost);
    const sessionOf = (url: string) => stripe.objects.get(url.split('/').pop()!)!;
    expect(sessionOf(fromPost).success_url).toMatch(/\/posts\/gold-letter\?checkout=success$/);
    expect(sessionOf(fromAccount).success_url).toMatch(/\/account\?checkout=success$/);
    expect(
      stripe.requests
        .filter((r) => r.path === '/v1/checkout/sessions')
        .every((r) => /^checkout-\d+-\d+-[\w-]{32}$/.test(r.idempotencyKey ?? '')),
    ).toBe(true);

    // Stripe out of reach: a page that says so and leads back, not a 500.
    stripe.down = true;
    try {
      const res = await post('/account/checkout', { tier: 'gold', interval: 'year', return: '/posts/gold-letter' }, cookie);
      expect(res.status).toBe(503);
      const page = await res.text();
      expect(page).toContain('We could not reach our payment provider, so nothing was charged.');
      expect(page).toContain('href="/posts/gold-letter"');
      const portal = await post('/account/billing', {}, cookie);
      expect(portal.status).toBe(503);
      expect(await portal.text()).toContain('href="/account"');
      // Staff calls too: a clear 503, not a 500.
      const tier = await fetch(server.url + '/api/v1/tiers', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Bronze', monthly_amount: 300, currency: 'usd' }),
      });
      expect(tier.status).toBe(503);
      expect(((await tier.json()) as { error: { code: string } }).error.code).toBe('payments_unavailable');
    } finally {
      stripe.down = false;
    }
    // Stripe refuses (a price deleted in Stripe): the same kind of page.
    const gold = await t.db.selectFrom('tiers').select('stripe_yearly_price_id').where('slug', '=', 'gold').executeTakeFirstOrThrow();
    const yearly = stripe.objects.get(gold.stripe_yearly_price_id!)!;
    stripe.objects.delete(gold.stripe_yearly_price_id!);
    try {
      const res = await post('/account/checkout', { tier: 'gold', interval: 'year' }, cookie);
      expect(res.status).toBe(503);
      const page = await res.text();
      expect(page).toContain('Stripe refused the request, so nothing was charged.');
      expect(page).toContain('href="/account"');
    } finally {
      stripe.objects.set(gold.stripe_yearly_price_id!, yearly);
    }
  });

  it('acknowledges (200) a webhook about a subscription Stripe no longer returns, and logs why', async () => {
    expect(
      await stripe.sendEvent(
        'customer.subscription.updated',
        { id: 'sub_gone', object: 'subscription', status: 'active' },
        { id: 'evt_gone' },
      ),
    ).toBe(200);
    expect(
      await stripe.sendEvent('invoice.paid', {
        id: 'in_gone',
        object: 'invoice',
        parent: { subscription_details: { subscription: 'sub_other_account' } },
      }),
    ).toBe(200);
    expect(server.output()).toMatch(
      /stripe webhook names a subscription Stripe does not return.*"subscription":"sub_gone".*No such subscription/,
    );
    expect(server.output()).toContain('"subscription":"sub_other_account"');
    // Handled once: a retry of the same event is a duplicate.
    expect(await t.db.selectFrom('stripe_events').select('id').where('id', '=', 'evt_gone').execute()).toHaveLength(1);
    // Other failures still answer 500, so that Stripe retries.
    stripe.down = true;
    try {
      expect(await stripe.sendEvent('customer.subscription.updated', { id: 'sub_gone', object: 'subscription' })).toBe(500);
    } finally {
      stripe.down = false;
    }
  });

  it('says payments are not configured when there are no Stripe keys', async () => {
    const plain = await startServer({ databaseUrl: t.url });
    try {
      const cookieRes = await fetch(plain.url + '/account', { redirect: 'manual' });
      expect(cookieRes.status).toBe(303);
      const res = await fetch(plain.url + '/api/v1/tiers', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Platinum', monthly_amount: 2000, currency: 'usd' }),
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: 'payments_not_configured' });
      expect(res.status).toBe(409);
      expect((await fetch(plain.url + '/webhooks/stripe', { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
