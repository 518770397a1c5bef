import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOffer } from '../../src/domain/billing/offers.ts';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { launchChromium, signInMember } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { heard, type RunningServer, startServer } from '../helpers/server.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';
import { waitFor } from '../helpers/wait.ts';

/** A reader walks an offer link to Checkout with the discount; a buyer buys a gift; in Chromium. */
let t: TestDatabase;
let server: RunningServer;
let stripe: StripeTestServer;
let browser: Browser;
let code = '';
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  stripe = await startStripeTestServer();
  server = await startServer({
    databaseUrl: t.url,
    env: { STRIPE_SECRET_KEY: 'sk_test_hearth', STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret },
  });
  stripe.webhookUrl = `${server.url}/webhooks/stripe`;
  const { default: Stripe } = await import('stripe');
  const client = new Stripe('sk_test_setup', { host: '127.0.0.1', port: stripe.port, protocol: 'http' });
  const product = await client.products.create({ name: 'Supporter' });
  const monthly = await client.prices.create({ product: product.id, unit_amount: 600, currency: 'usd', recurring: { interval: 'month' } });
  await t.db
    .updateTable('tiers')
    .set({ stripe_product_id: product.id, stripe_monthly_price_id: monthly.id, monthly_amount: 600, yearly_amount: null, trial_days: 0 })
    .where('slug', '=', 'supporter')
    .execute();
  code = (
    await createOffer(t.db, client, {
      tier: 'supporter',
      name: 'Half off, 3 months',
      percentOff: 50,
      duration: 'repeating',
      durationMonths: 3,
    })
  ).code;
  await heard(server, t.db);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await stripe?.close();
  await t?.drop();
});

describe('offers and gifts, in Chromium', () => {
  it('walks an offer link: sign in from the page, claim, pay with the discount', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/offer/${code}`);
    await expect(page.getByTestId('offer-name').textContent()).resolves.toBe('Half off, 3 months');
    await expect(page.getByTestId('offer-prices').textContent()).resolves.toMatch(/\$6\.00\s*\$3\.00 a month/);
    await page.getByTestId('offer-signin').click();
    await signInMember(page, t.db, server.url, 'offer@example.com');
    await page.waitForURL(`${server.url}/offer/${code}`);
    await page.getByRole('button', { name: 'Claim: $3.00 a month' }).click();
    await page.waitForURL(new RegExp(`^${stripe.url}/checkout/`));
    const session = stripe.objects.get(page.url().split('/').pop()!)!;
    expect((session.discounts as Array<{ promotion_code: string }>)[0]!.promotion_code).toMatch(/^promo_/);
    await page.getByRole('button', { name: 'Pay' }).click();
    await page.waitForURL(`${server.url}/account?checkout=success`);
    const redeemed = await waitFor(() => t.db.selectFrom('offer_redemptions').selectAll().executeTakeFirst(), { what: 'the redemption' });
    expect(redeemed).toBeDefined();
    await page.reload();
    await expect(page.getByTestId('account-tier').textContent()).resolves.toBe('Supporter');
  });

  it('buys a gift through Checkout in payment mode', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/gift`);
    await page.locator('#gift-months').selectOption('3');
    await page.getByLabel('Their email').fill('friend@example.com');
    await page.getByLabel('A message').fill('Enjoy the coffee letters');
    await page.getByLabel('Your email').fill('giver@example.com');
    await page.getByRole('button', { name: 'Continue to payment' }).click();
    await page.waitForURL(new RegExp(`^${stripe.url}/checkout/`));
    const session = stripe.objects.get(page.url().split('/').pop()!)!;
    expect(session).toMatchObject({ mode: 'payment', amount_total: 1800 });
    await page.getByRole('button', { name: 'Pay' }).click();
    await page.waitForURL(`${server.url}/gift?paid=1`);
    await expect(page.getByTestId('gift-paid').textContent()).resolves.toContain('Your gift is paid');
    // Delivered today: the link reaches the friend.
    await waitFor(
      () =>
        t.db
          .selectFrom('outbox')
          .select('text')
          .where(sql<boolean>`'friend@example.com' = any(to_addresses)`)
          .executeTakeFirst(),
      { timeout: 30_000, what: 'the gift email' },
    );
  });
});
