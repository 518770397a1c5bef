import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium, signInStaff } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/** A reader from Instagram subscribes and confirms; staff find them in the admin, in Chromium. */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 10 });
  await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

describe('from an Instagram bio link to a confirmed member', () => {
  it('subscribes on /join/instagram, confirms from the outbox, and shows up with platform instagram', async () => {
    const offOrigin: string[] = [];
    const reader = await browser.newContext();
    const page = await reader.newPage();
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url)) offOrigin.push(r.url());
    });
    await page.goto(server.url + '/join/instagram?utm_source=instagram&utm_medium=social&utm_campaign=bio-link');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toContain('Found us on Instagram?');
    await page.getByLabel('Your first name').fill('Rosa');
    await page.getByLabel('Email address').fill('rosa@example.com');
    await page.getByRole('checkbox', { name: /Roastery Dispatch/ }).check();
    await page.getByRole('button', { name: 'Subscribe' }).click();
    await page.waitForURL(server.url + '/subscribe/check-inbox');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Check your inbox');
    await page.screenshot({ path: join(ROOT, 'test-results', 'check-inbox.png') });

    // Staff open the outbox (no mail provider configured) and follow the confirmation link.
    const staff = await browser.newContext();
    const admin = await staff.newPage();
    await signInStaff(admin, server.url, 'owner@example.com', 'a long owner password');
    const confirmLink = await waitFor(
      async () => {
        await admin.goto(server.url + '/admin/outbox');
        const link = admin.getByRole('link', { name: /Confirm your subscription/ });
        if ((await link.count()) === 0) return undefined;
        await link.first().click();
        return /(http:\/\/\S+\/confirm\?token=\S+)/.exec((await admin.getByTestId('text').textContent()) ?? '')?.[1];
      },
      { interval: 200, timeout: 20_000, what: 'the confirmation email in the outbox' },
    );
    await expect(admin.getByTestId('to').textContent()).resolves.toBe('rosa@example.com');

    // Opening the link shows one button and leaves the member pending (mail scanners open links).
    await page.goto(confirmLink!.replace(/^http:\/\/[^/]+/, server.url));
    await page.getByTestId('confirm-button').waitFor();
    expect((await t.db.selectFrom('members').select('status').where('email', '=', 'rosa@example.com').executeTakeFirst())?.status).toBe(
      'pending',
    );
    await page.getByRole('button', { name: 'Confirm my subscription' }).click();
    await expect(page.getByTestId('confirmed').textContent()).resolves.toBe("You're subscribed");
    await expect(page.locator('.message').textContent()).resolves.toContain('The Weekly Brew, Roastery Dispatch');
    await page.screenshot({ path: join(ROOT, 'test-results', 'confirmed.png') });

    await admin.goto(server.url + '/admin/members?query=rosa');
    await expect(admin.getByTestId('member-count').textContent()).resolves.toBe('1');
    await expect(admin.getByTestId('platform').textContent()).resolves.toBe('instagram');
    await admin.getByRole('link', { name: 'rosa@example.com' }).click();
    await expect(admin.getByTestId('status').textContent()).resolves.toBe('active');
    await expect(admin.getByTestId('source').textContent()).resolves.toBe('instagram · campaign bio-link');
    await admin.screenshot({ path: join(ROOT, 'test-results', 'admin-member.png'), fullPage: true });
    expect(offOrigin).toEqual([]);
  });
});
