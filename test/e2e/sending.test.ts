import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signInStaff } from '../helpers/browser.ts';
import type { TestDatabase } from '../helpers/db.ts';
import type { RunningServer } from '../helpers/server.ts';
import { makePost, startSendingSite, type SendingSite } from '../helpers/sending.ts';
import type { ResendTestServer } from '../servers/resend.ts';

/**
 * Staff email a post to a segment: count, send, see the undo countdown, undo, send again, and
 * watch the progress bar reach 100% (the real server and worker, the Resend SDK, Chromium).
 */
let site: SendingSite | undefined;
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
let browser: Browser;
let postId = '';

beforeAll(async () => {
  site = await startSendingSite({ members: 600, editor: true, rate: 2, light: true });
  ({ t, server, resend } = site);
  await t.db.updateTable('members').set({ source_platform: 'tiktok' }).where('email', 'like', 'reader1%').execute();
  postId = await makePost(t.db, { title: 'Our winter blend is here' });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.stop();
});

describe('sending a post from the admin', () => {
  it('counts, sends, undoes within the countdown, sends again and shows the progress reach 100%', async () => {
    const page = await (await browser.newContext()).newPage();
    await signInStaff(page, server.url, 'editor@example.com', 'an editor password');

    await page.goto(`${server.url}/admin/posts/${postId}`);
    await page.getByTestId('email-post').click();
    await page.getByRole('checkbox', { name: 'tiktok' }).check();
    await page.getByRole('button', { name: 'Count recipients' }).click();
    // reader1, reader10–19, reader100–199: 111 members came from TikTok.
    await expect(page.getByTestId('recipient-count').textContent()).resolves.toBe('111 members');
    await page.getByRole('checkbox', { name: 'tiktok' }).uncheck();
    await page.getByRole('button', { name: 'Count recipients' }).click();
    await expect(page.getByTestId('recipient-count').textContent()).resolves.toBe('600 members');

    await page.getByRole('button', { name: 'Send now' }).click();
    await page.waitForURL(/\/admin\/sends\/\d+$/);
    const countdown = page.getByTestId('countdown');
    const first = Number(await countdown.textContent());
    // Counting down from the 30 s window; how much of it the page load took is the machine's speed.
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(30);
    // The countdown moves without a reload.
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="countdown"]')?.textContent) < n, first, {
      timeout: 30_000,
    });
    await page.getByRole('button', { name: 'Undo' }).click();
    await expect(page.getByTestId('send-status').textContent()).resolves.toBe('draft');
    expect(resend.countByRecipient().size).toBe(0);

    // A window long enough for the page to show the send still scheduled on a busy machine (with
    // 2 s, a slow redirect found it already sending).
    await page.getByLabel(/seconds to undo/).fill('10');
    await page.getByRole('button', { name: 'Send now' }).click();
    await expect(page.getByTestId('send-status').textContent()).resolves.toBe('scheduled');
    // The page follows the send by itself: scheduled → sending → sent, the bar filling up.
    await page.getByTestId('send-status').filter({ hasText: 'sending' }).waitFor({ timeout: 30_000 });
    const partway = Number(await page.getByTestId('percent').textContent());
    expect(partway).toBeLessThan(100);
    await page
      .getByTestId('send-status')
      .filter({ hasText: /^sent$/ })
      .waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('percent').textContent()).resolves.toBe('100');
    await expect(page.getByTestId('progress').getAttribute('value')).resolves.toBe('1');
    await expect(page.locator('[data-field="posted"]').textContent()).resolves.toBe('600');
    await page.screenshot({ path: 'test-results/send-done.png', fullPage: true });
    expect(resend.countByRecipient().size).toBe(600);
    expect([...resend.countByRecipient().values()].every((n) => n === 1)).toBe(true);
  }, 120_000);
});
