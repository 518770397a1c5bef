import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createMilestone } from '../../src/domain/referrals/milestones.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium, linkFromOutbox, signInMember, signInStaff } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';

/** Member A shares their link; B subscribes through it and confirms; A's account shows one referral. In Chromium. */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  await createMilestone(t.db, { threshold: 3, description: 'a Field Notes sticker', reward: 'manual' });
  await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

describe('a member brings a friend, in Chromium', () => {
  it('A shares their link, B subscribes through it and confirms, and A sees one referral', async () => {
    const offOrigin: string[] = [];
    const a = await (await browser.newContext()).newPage();
    a.on('request', (r) => {
      if (!r.url().startsWith(server.url)) offOrigin.push(r.url());
    });
    await a.goto(server.url + '/signin');
    await signInMember(a, t.db, server.url, 'ada@example.com');
    await a.waitForURL(server.url + '/account');
    await a.goto(server.url + '/account');
    const link = ((await a.getByTestId('referral-link').textContent()) ?? '').trim();
    expect(link).toMatch(new RegExp(`^${server.url}/r/[a-z0-9]{10}$`));
    await expect(a.getByTestId('referral-count').textContent()).resolves.toBe('0 friends have joined through your link.');
    await expect(a.getByTestId('referral-next').textContent()).resolves.toContain('a Field Notes sticker at 3 friends, 3 more to go');
    // The share buttons are plain links: nothing of a platform loads on the page.
    expect(await a.getByRole('link', { name: 'Bluesky' }).getAttribute('href')).toContain(encodeURIComponent(link));

    const b = await (await browser.newContext()).newPage();
    b.on('request', (r) => {
      if (!r.url().startsWith(server.url)) offOrigin.push(r.url());
    });
    await b.goto(link);
    await b.waitForURL(/\/join\?ref=/);
    await b.getByLabel('Email address').fill('bo@example.com');
    await b.getByRole('button', { name: 'Subscribe' }).click();
    await b.waitForURL(server.url + '/subscribe/check-inbox');
    await a.reload();
    await expect(a.getByTestId('referral-count').textContent()).resolves.toBe(
      '0 friends have joined through your link (1 not confirmed yet).',
    );

    await b.goto(await linkFromOutbox(t.db, server.url, 'bo@example.com', 'confirm'));
    await a.reload();
    await expect(a.getByTestId('referral-count').textContent()).resolves.toBe(
      '0 friends have joined through your link (1 not confirmed yet).',
    );
    await b.getByRole('button', { name: 'Confirm my subscription' }).click();
    await expect(b.getByTestId('confirmed').textContent()).resolves.toBe("You're subscribed");

    await a.reload();
    await expect(a.getByTestId('referral-count').textContent()).resolves.toBe('1 friend has joined through your link.');
    await expect(a.getByTestId('referral-next').textContent()).resolves.toContain('2 more to go');
    await a.screenshot({ path: join(ROOT, 'test-results', 'referral-account.png'), fullPage: true });
    expect(
      await t.db.selectFrom('members').select(['source_platform']).where('email', '=', 'bo@example.com').executeTakeFirstOrThrow(),
    ).toEqual({ source_platform: 'referral' });
    expect(offOrigin).toEqual([]);

    // Staff see Ada on the leaderboard and the channel's numbers.
    const admin = await (await browser.newContext()).newPage();
    await signInStaff(admin, server.url, 'owner@example.com', 'a long owner password');
    await admin.getByRole('link', { name: 'Referrals' }).click();
    await expect(admin.getByTestId('referrals-counted').textContent()).resolves.toBe('1');
    await expect(admin.getByTestId('leaderboard').textContent()).resolves.toContain('ada@example.com');
    await admin.screenshot({ path: join(ROOT, 'test-results', 'admin-referrals.png'), fullPage: true });
  });
});
