import { createServer, type Server } from 'node:http';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { formatDate } from '../../src/lib/i18n.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { pressEmailLink } from '../helpers/links.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';

/** Offers, trials, gifts and subscription.changed through the real stripe-node SDK and the Stripe test server. */
let t: TestDatabase;
let server: RunningServer;
let stripe: StripeTestServer;
let token = '';
let receiver: Server;
const hooks: Array<{ type: string; data: Record<string, unknown> }> = [];

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  token = (await createApiToken(t.db, owner.id, 'offers')).token;
  stripe = await startStripeTestServer();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push(JSON.parse(Buffer.concat(chunks).toString()) as { type: string; data: Record<string, unknown> });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  server = await startServer({
    databaseUrl: t.url,
    env: {
      STRIPE_SECRET_KEY: 'sk_test_hearth',
      STRIPE_API_BASE: stripe.url,
      STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
      WEBHOOKS_ALLOW_PRIVATE: '1',
    },
  });
  stripe.webhookUrl = `${server.url}/webhooks/stripe`;
  const api = (path: string, body: unknown) =>
    fetch(server.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  expect((await api('/api/v1/tiers', { name: 'Gold', monthly_amount: 1000, yearly_amount: 9600, currency: 'usd' })).status).toBe(201);
  expect((await api('/api/v1/tiers', { name: 'Trial', monthly_amount: 500, currency: 'usd', trial_days: 2 })).status).toBe(201);
  const port = (receiver.address() as { port: number }).port;
  expect((await api('/api/v1/webhooks', { url: `http://127.0.0.1:${port}/hook`, events: ['subscription.changed'] })).status).toBe(201);
});
afterAll(async () => {
  await server?.stop();
  await stripe?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  await t?.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
});

const api = (method: string, path: string, body?: unknown) =>
  fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const post = (path: string, fields: Record<string, string>, cookie = '') =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, ...(cookie ? { cookie } : {}) },
    redirect: 'manual',
  });
const newestMail = (email: string, subjectPart: string) =>
  t.db
    .selectFrom('outbox')
    .select(['id', 'text'])
    .where(sql<boolean>`${email} = any(to_addresses)`)
    .where('subject', 'like', `%${subjectPart}%`)
    .orderBy('id', 'desc')
    .executeTakeFirst();
/** The newest such email; with `after` (an outbox id), one newer than that (the worker writes the outbox later). */
async function lastMailText(email: string, subjectPart: string, after = '0'): Promise<string> {
  return waitFor(
    async () => {
      const row = await newestMail(email, subjectPart);
      return row && BigInt(row.id) > BigInt(after) ? row.text : undefined;
    },
    { what: `an email "${subjectPart}" to ${email}`, timeout: 30_000 },
  );
}
async function signIn(email: string, returnTo = '/account'): Promise<string> {
  // A member signed in before has an older sign-in email: wait for this request's own.
  const before = (await newestMail(email, 'sign-in link'))?.id ?? '0';
  await post('/signin', { email, return: returnTo });
  const text = await lastMailText(email, 'sign-in link', before);
  const link = /(http:\/\/\S+\/signin\/verify\?token=\S+)/.exec(text)![1]!;
  const res = await pressEmailLink(link.replace(/^http:\/\/[^/]+/, server.url));
  return res.headers
    .getSetCookie()
    .find((c) => c.startsWith('hearth_member='))!
    .split(';')[0]!;
}
const memberOf = (email: string) =>
  t.db
    .selectFrom('members as m')
    .innerJoin('tiers as t', 't.id', 'm.tier_id')
    .select(['m.id', 't.slug', 'm.tier_source', 'm.comp_until', 'm.source_platform'])
    .where('m.email', '=', email)
    .executeTakeFirstOrThrow();
const sessionOf = (location: string) => stripe.objects.get(location.split('/').pop()!)!;

describe('offers', () => {
  let code = '';
  it("refuses what Stripe refuses with Stripe's reason, and leaves nothing half-made", async () => {
    const before = [...stripe.objects.values()].filter((o) => o.object === 'coupon').length;
    // A promotion code Stripe refuses (a code taken by another active code in the account): the coupon is undone.
    const client = new (await import('stripe')).default('sk_test_x', { host: '127.0.0.1', port: stripe.port, protocol: 'http' });
    const other = await client.coupons.create({ percent_off: 5, duration: 'once' });
    await client.promotionCodes.create({ promotion: { type: 'coupon', coupon: other.id }, code: 'TAKEN' });
    const { createOffer } = await import('../../src/domain/billing/offers.ts');
    await expect(
      createOffer(t.db, client, { tier: 'gold', name: 'Taken', percentOff: 10, duration: 'once', code: 'TAKEN' }),
    ).rejects.toMatchObject({ code: 'stripe_refused', message: expect.stringContaining('already exists') });
    expect([...stripe.objects.values()].filter((o) => o.object === 'coupon').length).toBe(before + 1); // only `other`
    expect(await t.db.selectFrom('offers').select('id').execute()).toHaveLength(0);
    // Stripe's own refusal through the API: a repeating coupon without months is Hearth's check; a redeem date Stripe refuses.
    const tooMuch = await api('POST', '/api/v1/offers', { tier: 'gold', name: 'Too much', amount_off: 5000, duration: 'once' });
    expect(tooMuch.status).toBe(400);
    expect(((await tooMuch.json()) as { error: { message: string } }).error.message).toMatch(/larger than the tier's price/);
  });

  it('creates an offer in Stripe (coupon + promotion code) and lists it', async () => {
    const res = await api('POST', '/api/v1/offers', {
      tier: 'gold',
      name: 'Instagram half',
      percent_off: 50,
      duration: 'repeating',
      duration_months: 3,
      interval: 'month',
      max_redemptions: 2,
      platforms: ['instagram'],
    });
    expect(res.status).toBe(201);
    const { offer } = (await res.json()) as { offer: { id: string; code: string; url: string; state: string } };
    expect(offer.url).toBe(`${server.url}/offer/${offer.code}`);
    code = offer.code;
    const row = await t.db.selectFrom('offers').selectAll().where('id', '=', offer.id).executeTakeFirstOrThrow();
    expect(stripe.objects.get(row.stripe_coupon_id)).toMatchObject({ percent_off: 50, duration: 'repeating', duration_in_months: 3 });
    expect(stripe.objects.get(row.stripe_promotion_code_id)).toMatchObject({ code, max_redemptions: 2, active: true });
    const list = (await (await api('GET', '/api/v1/offers')).json()) as { offers: Array<{ code: string }> };
    expect(list.offers.map((o) => o.code)).toContain(code);
  });

  it('takes a reader from /join/instagram through the offer link and Checkout with the discount applied', async () => {
    expect((await fetch(`${server.url}/join/instagram`)).status).toBe(200);
    const anonymous = await fetch(`${server.url}/offer/${code.toLowerCase()}`);
    expect(anonymous.status).toBe(200);
    const page = await anonymous.text();
    expect(page).toContain('Instagram half');
    expect(page).toMatch(/<s>\$10\.00<\/s> <strong>\$5\.00<\/strong> a month/);
    expect(page).toContain(`/signin?return=${encodeURIComponent(`/offer/${code}`)}`);
    expect((await post('/subscribe', { email: 'insta@example.com', platform: 'instagram', landing_page: `/offer/${code}` })).status).toBe(
      303,
    );
    expect((await memberOf('insta@example.com')).source_platform).toBe('instagram');
    const cookie = await signIn('insta@example.com', `/offer/${code}`);
    const claim = await (await fetch(`${server.url}/offer/${code}`, { headers: { cookie } })).text();
    expect(claim).toContain('data-testid="offer-claim"');
    const checkout = await post('/account/checkout', { offer: code, tier: 'gold', interval: 'year' }, cookie);
    expect(checkout.status).toBe(303);
    const session = sessionOf(checkout.headers.get('location')!);
    const row = await t.db.selectFrom('offers').selectAll().where('code', '=', code).executeTakeFirstOrThrow();
    expect(session).toMatchObject({ mode: 'subscription', discounts: [{ promotion_code: row.stripe_promotion_code_id }] });
    expect(session.allow_promotion_codes).toBeUndefined();
    // The offer is monthly only: the interval asked for is replaced by the offer's.
    const gold = await t.db.selectFrom('tiers').selectAll().where('slug', '=', 'gold').executeTakeFirstOrThrow();
    expect((session.line_items as Array<{ price: string }>)[0]!.price).toBe(gold.stripe_monthly_price_id);
    await stripe.completeCheckout(session.id as string);
    await waitFor(() => t.db.selectFrom('offer_redemptions').selectAll().executeTakeFirst(), { what: 'the redemption' });
    expect((await memberOf('insta@example.com')).slug).toBe('gold');
    const sub = await t.db.selectFrom('subscriptions').selectAll().where('coupon_id', '=', row.stripe_coupon_id).executeTakeFirstOrThrow();
    expect(sub.mrr_cents).toBe(500);
    expect((await t.db.selectFrom('offers').select('redemptions').where('code', '=', code).executeTakeFirstOrThrow()).redemptions).toBe(1);
    // The same member again: already used.
    const again = await fetch(`${server.url}/offer/${code}`, { headers: { cookie } });
    expect(await again.text()).toMatch(/new paying members|already used this offer/);
    // A reader from elsewhere: the platform rule says no, before Stripe.
    const other = await signIn('direct@example.com', `/offer/${code}`);
    const refused = await post('/account/checkout', { offer: code, tier: 'gold', interval: 'month' }, other);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('This offer is for readers who found us elsewhere.');
  });

  it('shows an expired or archived offer as a clear page with the normal price; Stripe deactivating it is followed', async () => {
    const created = await api('POST', '/api/v1/offers', { tier: 'gold', name: 'Short', amount_off: 200, duration: 'once' });
    const { offer } = (await created.json()) as { offer: { id: string; code: string } };
    await t.db
      .updateTable('offers')
      .set({ ends_at: new Date(Date.now() - 1000) })
      .where('id', '=', offer.id)
      .execute();
    const expired = await fetch(`${server.url}/offer/${offer.code}`);
    expect(expired.status).toBe(410);
    const text = await expired.text();
    expect(text).toContain('This offer has ended');
    expect(text).toContain('$10.00 a month');
    expect(text).not.toContain('<s>');
    await t.db.updateTable('offers').set({ ends_at: null }).where('id', '=', offer.id).execute();
    // Deactivated in Stripe's dashboard: the webhook re-reads the code and archives the offer (twice: once).
    const row = await t.db.selectFrom('offers').selectAll().where('id', '=', offer.id).executeTakeFirstOrThrow();
    const promo = stripe.objects.get(row.stripe_promotion_code_id)!;
    promo.active = false;
    expect(await stripe.sendEvent('promotion_code.updated', { id: promo.id, active: true })).toBe(200);
    expect(await stripe.sendEvent('promotion_code.updated', { id: promo.id, active: true })).toBe(200);
    expect((await t.db.selectFrom('offers').select('status').where('id', '=', offer.id).executeTakeFirstOrThrow()).status).toBe('archived');
    expect(await (await fetch(`${server.url}/offer/${offer.code}`)).text()).toContain('This offer is no longer available');
    const deleted = await api('DELETE', `/api/v1/offers/${offer.id}`);
    expect(deleted.status).toBe(200);
    expect(((await deleted.json()) as { offer: { state: string } }).offer.state).toBe('archived');
  });
});

describe('trials', () => {
  it('converts a trial (reminder before the first charge, trial end on the account page) and cancels one without a card', async () => {
    const cookie = await signIn('trial@example.com');
    const res = await post('/account/checkout', { tier: 'trial', interval: 'month' }, cookie);
    const session = sessionOf(res.headers.get('location')!);
    expect(session.subscription_data).toMatchObject({ trial_period_days: '2' });
    const sub = await stripe.completeCheckout(session.id as string);
    await waitFor(() => memberOf('trial@example.com'), { until: (m) => m.slug === 'trial', what: 'the trial tier' });
    const account = await (await fetch(`${server.url}/account`, { headers: { cookie } })).text();
    expect(account).toMatch(/data-testid="trial-end"[^>]*>[^<]*Your free trial ends on/);
    expect(await lastMailText('trial@example.com', 'Your free trial ends on')).toContain('your card will be charged $5.00');
    let row = await t.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('stripe_subscription_id', '=', sub.id as string)
      .executeTakeFirstOrThrow();
    expect(row.mrr_cents).toBe(0);
    await stripe.endTrial(sub.id as string);
    row = await t.db
      .selectFrom('subscriptions')
      .selectAll()
      .where('stripe_subscription_id', '=', sub.id as string)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'active', mrr_cents: 500 });
    const movement = await t.db
      .selectFrom('mrr_movements')
      .selectAll()
      .where('stripe_subscription_id', '=', sub.id as string)
      .execute();
    expect(movement.map((m) => [m.kind, m.cause, m.delta_cents])).toEqual([['new', 'trial_converted', 500]]);

    // An offer with a trial and no card: Stripe cancels at the trial's end.
    const created = await api('POST', '/api/v1/offers', {
      tier: 'gold',
      name: 'Try gold',
      percent_off: 10,
      duration: 'once',
      trial_days: 7,
      trial_without_card: true,
    });
    const { offer } = (await created.json()) as { offer: { code: string } };
    const cookie2 = await signIn('nocard@example.com');
    const res2 = await post('/account/checkout', { offer: offer.code, tier: 'gold', interval: 'month' }, cookie2);
    const s2 = sessionOf(res2.headers.get('location')!);
    expect(s2).toMatchObject({
      payment_method_collection: 'if_required',
      subscription_data: { trial_period_days: '7', trial_settings: { end_behavior: { missing_payment_method: 'cancel' } } },
    });
    const sub2 = await stripe.completeCheckout(s2.id as string);
    await waitFor(() => memberOf('nocard@example.com'), { until: (m) => m.slug === 'gold', what: 'gold on trial' });
    await stripe.endTrial(sub2.id as string);
    expect((await memberOf('nocard@example.com')).slug).toBe('free');
    expect(
      await t.db
        .selectFrom('mrr_movements')
        .selectAll()
        .where('stripe_subscription_id', '=', sub2.id as string)
        .execute(),
    ).toEqual([]);
  });
});

describe('subscription.changed', () => {
  it('is emitted in the transaction of a tier or interval change, with the before and after', async () => {
    const subRow = await t.db
      .selectFrom('subscriptions as s')
      .innerJoin('members as m', 'm.id', 's.member_id')
      .select('s.stripe_subscription_id')
      .where('m.email', '=', 'trial@example.com')
      .executeTakeFirstOrThrow();
    const gold = await t.db.selectFrom('tiers').selectAll().where('slug', '=', 'gold').executeTakeFirstOrThrow();
    const sub = stripe.objects.get(subRow.stripe_subscription_id)!;
    (sub.items as { data: Array<Record<string, unknown>> }).data[0]!.price = stripe.objects.get(gold.stripe_yearly_price_id!)!;
    await stripe.updateSubscription(sub.id as string, {});
    const got = await waitFor(
      async () => hooks.find((h) => h.type === 'subscription.changed' && h.data.subscription === sub.id && h.data.tier === 'gold'),
      {
        what: 'the subscription.changed delivery',
        timeout: 20_000,
      },
    );
    expect(got.data).toMatchObject({
      tier: 'gold',
      previous_tier: 'trial',
      interval: 'year',
      previous_interval: 'month',
      status: 'active',
      mrr_cents: 800,
    });
    // The trial's conversion was one too (status trialing → active).
    expect(hooks.find((h) => h.data.subscription === sub.id && h.data.previous_status === 'trialing')?.data).toMatchObject({
      status: 'active',
      tier: 'trial',
    });
    // The same state again: no new event.
    await stripe.updateSubscription(sub.id as string, {});
    const deliveries = await t.db
      .selectFrom('webhook_deliveries')
      .select('payload')
      .where('event_type', '=', 'subscription.changed')
      .where(sql<boolean>`payload->'data'->>'subscription' = ${sub.id as string}`)
      .execute();
    expect(deliveries).toHaveLength(2);
    const moves = await t.db
      .selectFrom('mrr_movements')
      .selectAll()
      .where('stripe_subscription_id', '=', sub.id as string)
      .orderBy('id')
      .execute();
    expect(moves.map((m) => [m.kind, m.cause, m.delta_cents])).toEqual([
      ['new', 'trial_converted', 500],
      ['expansion', 'upgrade', 300],
    ]);
  });
});

describe('cancellation', () => {
  const subscriptionOf = (email: string) =>
    t.db
      .selectFrom('subscriptions as s')
      .innerJoin('members as m', 'm.id', 's.member_id')
      .selectAll('s')
      .where('m.email', '=', email)
      .orderBy('s.updated_at', 'desc')
      .executeTakeFirstOrThrow();
  it('records the reason; one member takes the retention offer in one click, one pauses, one cancels', async () => {
    const created = await api('POST', '/api/v1/offers', {
      tier: 'gold',
      name: 'Stay half',
      percent_off: 50,
      duration: 'repeating',
      duration_months: 3,
      kind: 'retention',
    });
    expect(created.status).toBe(201);
    const retention = await t.db.selectFrom('offers').selectAll().where('kind', '=', 'retention').executeTakeFirstOrThrow();

    const stayer = await signIn('trial@example.com');
    const page = await (await fetch(`${server.url}/account/cancel`, { headers: { cookie: stayer } })).text();
    expect(page).toContain('Stay half');
    expect(page).toContain('50% off for the first 3 months');
    const retained = await post('/account/cancel', { reason: 'too_expensive', comment: 'A bit much', choice: 'retain' }, stayer);
    expect(retained.status).toBe(200);
    expect(await retained.text()).toContain('Thank you for staying!');
    const sub = await waitFor(() => subscriptionOf('trial@example.com'), {
      until: (s) => s.coupon_id === retention.stripe_coupon_id,
      what: 'the retention discount on the subscription',
      timeout: 20_000,
    });
    expect(sub).toMatchObject({ cancel_at_period_end: false, mrr_cents: 400 });
    // Paused for two months: payments stop (no MRR), the account says until when.
    expect((await post('/account/cancel', { reason: 'temporary', choice: 'pause', months: '2' }, stayer)).status).toBe(200);
    const paused = await waitFor(() => subscriptionOf('trial@example.com'), { until: (s) => s.paused, what: 'the pause', timeout: 20_000 });
    expect(paused.mrr_cents).toBe(0);
    expect(Math.round((paused.paused_until!.getTime() - Date.now()) / 86_400_000)).toBe(60);
    expect(await (await fetch(`${server.url}/account`, { headers: { cookie: stayer } })).text()).toContain('Payments are paused until');

    const leaver = await signIn('insta@example.com');
    const bad = await post('/account/cancel', { reason: 'because', choice: 'cancel' }, leaver);
    expect(bad.status).toBe(400);
    const left = await post('/account/cancel', { reason: 'not_reading', comment: 'No time', choice: 'cancel' }, leaver);
    expect(left.status).toBe(200);
    await waitFor(() => subscriptionOf('insta@example.com'), {
      until: (s) => s.cancel_at_period_end,
      what: 'cancel at period end',
      timeout: 20_000,
    });
    const stripeSub = stripe.objects.get((await subscriptionOf('insta@example.com')).stripe_subscription_id)!;
    expect(stripeSub.cancellation_details).toMatchObject({ feedback: 'unused', comment: 'No time' });
    const rows = await t.db.selectFrom('cancellations').select(['reason', 'comment', 'outcome', 'offer_id']).orderBy('id').execute();
    expect(rows).toEqual([
      { reason: 'too_expensive', comment: 'A bit much', outcome: 'retained', offer_id: retention.id },
      { reason: 'temporary', comment: '', outcome: 'paused', offer_id: null },
      { reason: 'not_reading', comment: 'No time', outcome: 'cancelled', offer_id: null },
    ]);
    const applied = await t.db.selectFrom('cancellations').select(['applied_at', 'failed_at']).execute();
    expect(applied.every((r) => r.applied_at !== null && r.failed_at === null)).toBe(true);
  });

  it('never drops a choice Stripe refuses: the row keeps the reason and staff are alerted once', async () => {
    const sub = await subscriptionOf('trial@example.com');
    stripe.objects.delete(sub.stripe_subscription_id); // gone at Stripe (deleted from its dashboard)
    const member = await signIn('trial@example.com');
    const res = await post('/account/cancel', { reason: 'switched', choice: 'cancel' }, member);
    expect(res.status).toBe(200);
    const row = await waitFor(
      () => t.db.selectFrom('cancellations').selectAll().where('reason', '=', 'switched').executeTakeFirstOrThrow(),
      { until: (r) => r.failed_at !== null, what: 'the failed cancellation recorded', timeout: 20_000 },
    );
    expect(row.applied_at).toBeNull();
    expect(row.failure).toMatch(/No such subscription/i);
    const alerts = await waitFor(
      () => t.db.selectFrom('staff_alerts').selectAll().where('fact_key', '=', `cancellation-failed:${row.id}`).execute(),
      { until: (a) => a.length > 0, what: 'the staff alert', timeout: 20_000 },
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.link).toBe(`/admin/members/${row.member_id}`);
  });
});

describe('gifts', () => {
  it('sells a gift through Checkout (payment mode), delivers it on its date, and redeems it once, stacking on a comp', async () => {
    // Two days ahead, not tomorrow: a test that straddles midnight UTC would find "tomorrow" already
    // begun, and the delivery would run at once rather than at 08:00 (gifts.ts, deliveryTime).
    const deliverOn = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    const bad = await post('/gift', { tier: 'gold', months: '2' });
    expect(bad.status).toBe(400);
    const res = await post('/gift', {
      tier: 'gold',
      months: '3',
      recipient_email: 'friend@example.com',
      message: 'Happy birthday!',
      deliver_on: deliverOn,
      email: 'buyer@example.com',
    });
    expect(res.status).toBe(303);
    const session = sessionOf(res.headers.get('location')!);
    expect(session).toMatchObject({ mode: 'payment', amount_total: 3000, customer_email: 'buyer@example.com' });
    await stripe.completeCheckout(session.id as string);
    expect(await lastMailText('buyer@example.com', 'Your gift of 3 months')).toContain(
      `friend@example.com on ${formatDate('en', new Date(deliverOn))}`,
    );
    const gift = await t.db.selectFrom('gifts').selectAll().executeTakeFirstOrThrow();
    expect(gift.status).toBe('paid');
    const job = await sql<{ run_at: Date; key: string }>`
      select j.run_at, j.key from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
      where k.identifier = 'gift_delivery'`.execute(t.db);
    expect(job.rows).toHaveLength(1);
    expect(job.rows[0]!.key).toBe(`gift-delivery-${gift.id}`);
    expect(job.rows[0]!.run_at.toISOString()).toBe(`${deliverOn}T08:00:00.000Z`);
    // A repeated webhook changes nothing.
    expect(await stripe.sendEvent('checkout.session.completed', session)).toBe(200);
    // The date comes (time compressed): the job runs.
    await sql`update graphile_worker._private_jobs set run_at = now() where key = ${`gift-delivery-${gift.id}`}`.execute(t.db);
    const mail = await lastMailText('friend@example.com', 'A gift for you');
    expect(mail).toContain('Happy birthday!');
    const link = /(http:\/\/\S+\/gift\/redeem\?token=\S+)/.exec(mail)![1]!.replace(/^http:\/\/[^/]+/, server.url);
    expect((await t.db.selectFrom('gifts').select('token_hash').executeTakeFirstOrThrow()).token_hash).not.toContain(
      new URL(link).searchParams.get('token')!,
    );

    // The friend has 10 days of complimentary gold: the gift's 90 days stack on top.
    const cookie = await signIn('friend@example.com');
    const gold = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'gold').executeTakeFirstOrThrow();
    const compUntil = new Date(Date.now() + 10 * 86_400_000);
    await t.db
      .updateTable('members')
      .set({ tier_id: gold.id, tier_source: 'comp', comp_until: compUntil })
      .where('email', '=', 'friend@example.com')
      .execute();
    const show = await fetch(link, { headers: { cookie } });
    expect(await show.text()).toContain('3 months of <strong>Gold</strong>');
    const tokenValue = new URL(link).searchParams.get('token')!;
    const redeemed = await post('/gift/redeem', { token: tokenValue }, cookie);
    expect(redeemed.status).toBe(200);
    expect(await redeemed.text()).toContain('Enjoy! You are a Gold member until');
    const friend = await memberOf('friend@example.com');
    expect(friend.tier_source).toBe('comp');
    expect(Math.round((friend.comp_until!.getTime() - compUntil.getTime()) / 86_400_000)).toBe(90);
    // Twice: it says so, and nothing moves.
    const twice = await post('/gift/redeem', { token: tokenValue }, cookie);
    expect(twice.status).toBe(409);
    expect(await twice.text()).toContain('You have already redeemed this gift.');
    const stranger = await signIn('stranger@example.com');
    expect(await (await fetch(link, { headers: { cookie: stranger } })).text()).toContain('This gift has already been redeemed.');
    expect((await memberOf('friend@example.com')).comp_until!.getTime()).toBe(friend.comp_until!.getTime());
  });
});
