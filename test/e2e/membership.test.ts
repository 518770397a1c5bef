import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { launchChromium, signInMember } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { heard, ROOT, type RunningServer, startServer } from '../helpers/server.ts';
import { startStripeTestServer, type StripeTestServer } from '../servers/stripe.ts';

/** A reader signs in from the outbox link, hits a paywall, pays through (test) Stripe Checkout, reads, manages billing. */
let t: TestDatabase;
let server: RunningServer;
let stripe: StripeTestServer;
let browser: Browser;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  stripe = await startStripeTestServer();
  server = await startServer({
    databaseUrl: t.url,
    env: { STRIPE_SECRET_KEY: 'sk_test_hearth', STRIPE_API_BASE: stripe.url, STRIPE_WEBHOOK_SECRET: stripe.webhookSecret },
  });
  stripe.webhookUrl = `${server.url}/webhooks/stripe`;
  // The demo's paid tier gets its Stripe prices (as POST /api/v1/tiers would create them).
  const { default: Stripe } = await import('stripe');
  const client = new Stripe('sk_test_setup', { host: '127.0.0.1', port: stripe.port, protocol: 'http' });
  const product = await client.products.create({ name: 'Supporter' });
  const monthly = await client.prices.create({ product: product.id, unit_amount: 600, currency: 'usd', recurring: { interval: 'month' } });
  await t.db
    .updateTable('tiers')
    .set({ stripe_product_id: product.id, stripe_monthly_price_id: monthly.id, trial_days: 0 })
    .where('slug', '=', 'supporter')
    .execute();
  await heard(server, t.db);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await stripe?.close();
  await t?.drop();
});

describe('from paywall to paid reader, in Chromium', () => {
  it('signs in, upgrades through Checkout, reads the whole post, and reaches the billing portal', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(server.url + '/posts/roast-profiles-we-never-published');
    await expect(page.getByTestId('paywall').textContent()).resolves.toContain('This post is for paying supporters');
    await page.getByRole('link', { name: 'Already a member? Sign in' }).click();
    await signInMember(page, t.db, server.url, 'reader@example.com');
    await page.waitForURL(server.url + '/posts/roast-profiles-we-never-published');
    await expect(page.getByTestId('paywall').textContent()).resolves.toContain('See membership options');
    expect(await page.content()).not.toContain('Charge at 205');

    await page.getByRole('link', { name: 'See membership options' }).click();
    await page.getByRole('button', { name: '$6.00 a month' }).click();
    await page.waitForURL(new RegExp(`^${stripe.url}/checkout/`));
    await page.getByRole('button', { name: 'Pay' }).click();
    // Back to the post that asked for the upgrade, now whole.
    await page.waitForURL(server.url + '/posts/roast-profiles-we-never-published?checkout=success');
    await page.reload(); // the webhooks arrive as the browser returns
    await expect(page.locator('.post-body').textContent()).resolves.toContain('Charge at 205');
    await page.goto(server.url + '/account');
    await expect(page.getByTestId('account-tier').textContent()).resolves.toBe('Supporter');
    await page.screenshot({ path: join(ROOT, 'test-results', 'paid-reader.png'), fullPage: true });

    await page.goto(server.url + '/account');
    await page.getByRole('button', { name: 'Manage billing' }).click();
    await page.waitForURL(new RegExp(`^${stripe.url}/portal/`));
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Test billing portal');
  });
});
