import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';

/** The Stripe test server through the real SDK: coupons, promotion codes, Checkout discounts, trials, one-time payments, pauses. */
let stripe: StripeTestServer;
let client: Stripe;
const events: Array<{ type: string; object: Record<string, unknown> }> = [];
let receiver: import('node:http').Server;

beforeAll(async () => {
  const { createServer } = await import('node:http');
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const event = JSON.parse(Buffer.concat(chunks).toString()) as { type: string; data: { object: Record<string, unknown> } };
    events.push({ type: event.type, object: event.data.object });
    res.end('{}');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const port = (receiver.address() as { port: number }).port;
  stripe = await startStripeTestServer({ webhookUrl: `http://127.0.0.1:${port}/` });
  client = new Stripe('sk_test_x', { host: '127.0.0.1', port: stripe.port, protocol: 'http', maxNetworkRetries: 0 });
});
afterAll(async () => {
  await stripe?.close();
  await new Promise((r) => receiver?.close(r));
});

async function tierPrice(interval: 'month' | 'year' | null, amount = 1000) {
  const product = await client.products.create({ name: 'Gold' });
  return client.prices.create({
    product: product.id,
    unit_amount: amount,
    currency: 'usd',
    ...(interval ? { recurring: { interval } } : {}),
  });
}

describe('Stripe test server', () => {
  it('refuses coupons Stripe refuses, with its reasons', async () => {
    await expect(client.coupons.create({ percent_off: 150, duration: 'once' })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('percent_off'),
    });
    await expect(client.coupons.create({ amount_off: 500, duration: 'once' })).rejects.toThrow(/currency/);
    await expect(client.coupons.create({ percent_off: 10, duration: 'repeating' })).rejects.toThrow(/duration_in_months/);
    await expect(client.coupons.create({ percent_off: 10, duration: 'once', redeem_by: 1000 })).rejects.toThrow(/future/);
    const coupon = await client.coupons.create({ percent_off: 50, duration: 'repeating', duration_in_months: 3 });
    expect(coupon).toMatchObject({ percent_off: 50, duration: 'repeating', duration_in_months: 3, times_redeemed: 0 });
    const promo = await client.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'HALF' });
    expect(promo).toMatchObject({ code: 'HALF', active: true, promotion: { coupon: coupon.id } });
    await expect(client.promotionCodes.create({ promotion: { type: 'coupon', coupon: coupon.id }, code: 'half' })).rejects.toThrow(
      /already exists/,
    );
    const off = await client.promotionCodes.update(promo.id, { active: false });
    expect(off.active).toBe(false);
    expect((await client.coupons.del(coupon.id)).deleted).toBe(true);
    await expect(client.coupons.retrieve(coupon.id)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('applies a promotion code in Checkout, counts the redemption, and refuses an exhausted one', async () => {
    const price = await tierPrice('month');
    const customer = await client.customers.create({ email: 'a@example.com' });
    const coupon = await client.coupons.create({ amount_off: 300, currency: 'usd', duration: 'forever' });
    const promo = await client.promotionCodes.create({
      promotion: { type: 'coupon', coupon: coupon.id },
      code: 'ONCE',
      max_redemptions: 1,
    });
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: 'subscription',
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      discounts: [{ promotion_code: promo.id }],
      success_url: 'http://x/ok',
    };
    await expect(client.checkout.sessions.create({ ...params, allow_promotion_codes: true })).rejects.toThrow(
      /only specify one of these parameters: allow_promotion_codes, discounts/,
    );
    const session = await client.checkout.sessions.create(params);
    const sub = await stripe.completeCheckout(session.id);
    const read = await client.subscriptions.retrieve(sub.id as string, { expand: ['discounts'] });
    const discount = read.discounts[0] as Stripe.Discount;
    expect((discount.source.coupon as Stripe.Coupon).id).toBe(coupon.id);
    expect(discount.promotion_code).toBe(promo.id);
    expect((await client.promotionCodes.retrieve(promo.id)).times_redeemed).toBe(1);
    await expect(client.checkout.sessions.create(params)).rejects.toThrow(/maximum number of times/);
  });

  it('runs trials with and without a card, a one-time payment with a refund, and pauses collection', async () => {
    const price = await tierPrice('month');
    const customer = await client.customers.create({ email: 'b@example.com' });
    const trial = (card: boolean) =>
      client.checkout.sessions.create({
        mode: 'subscription',
        customer: customer.id,
        line_items: [{ price: price.id, quantity: 1 }],
        subscription_data: { trial_period_days: 14, trial_settings: { end_behavior: { missing_payment_method: 'cancel' } } },
        ...(card ? {} : { payment_method_collection: 'if_required' as const }),
        success_url: 'http://x/ok',
      });
    const withCard = await stripe.completeCheckout((await trial(true)).id);
    const withoutCard = await stripe.completeCheckout((await trial(false)).id);
    expect(withCard).toMatchObject({ status: 'trialing', trial_end: expect.any(Number) });
    expect(withoutCard.default_payment_method).toBeNull();
    await stripe.endTrial(withCard.id as string);
    await stripe.endTrial(withoutCard.id as string);
    expect((await client.subscriptions.retrieve(withCard.id as string)).status).toBe('active');
    expect((await client.subscriptions.retrieve(withoutCard.id as string)).status).toBe('canceled');

    await expect(
      client.checkout.sessions.create({ mode: 'payment', line_items: [{ price: price.id, quantity: 1 }], success_url: 'http://x/ok' }),
    ).rejects.toThrow(/recurring price/);
    const gift = await client.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'usd', unit_amount: 3000, product_data: { name: 'Gift' } }, quantity: 1 }],
      success_url: 'http://x/ok',
    });
    expect(gift.amount_total).toBe(3000);
    const pi = await stripe.completeCheckout(gift.id);
    expect((await client.refunds.create({ payment_intent: pi.id as string })).status).toBe('succeeded');
    await expect(client.refunds.create({ payment_intent: pi.id as string })).rejects.toThrow(/already been refunded/);

    const resumesAt = Math.floor(Date.now() / 1000) + 30 * 86400;
    const paused = await client.subscriptions.update(withCard.id as string, {
      pause_collection: { behavior: 'void', resumes_at: resumesAt },
    });
    expect(paused.pause_collection).toEqual({ behavior: 'void', resumes_at: resumesAt });
    await stripe.settle();
    expect(events.some((e) => e.type === 'customer.subscription.updated' && e.object.pause_collection !== null)).toBe(true);
    expect((await client.subscriptions.update(withCard.id as string, { pause_collection: '' })).pause_collection).toBeNull();
    // The idempotency rule holds on the new endpoints too.
    await client.subscriptions.update(withCard.id as string, { cancel_at_period_end: true }, { idempotencyKey: 'k1' });
    await expect(
      client.subscriptions.update(withCard.id as string, { cancel_at_period_end: false }, { idempotencyKey: 'k1' }),
    ).rejects.toThrow(Stripe.errors.StripeIdempotencyError);
  });
});
