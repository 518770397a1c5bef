import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signInStaff } from '../helpers/browser.ts';
import type { TestDatabase } from '../helpers/db.ts';
import type { RunningServer } from '../helpers/server.ts';
import { makePost, startSendingSite, type SendingSite } from '../helpers/sending.ts';
import { waitFor } from '../helpers/wait.ts';
import type { ResendTestServer } from '../servers/resend.ts';

/**
 * A subject test from the admin: the send form's extra subject line, sample and wait; the send's
 * page shows each subject's figures and picks the winner by hand (real server, worker, Chromium).
 */
const MEMBERS = 100;
let site: SendingSite | undefined;
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
let browser: Browser;
let postId = '';

beforeAll(async () => {
  site = await startSendingSite({ members: MEMBERS, editor: true, light: true });
  ({ t, server, resend } = site);
  postId = await makePost(t.db, { title: 'Our winter blend is here' });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.stop();
});

describe('a subject test from the admin', () => {
  it('sends the sample two subjects, shows their figures, and sends the one staff pick to the rest', async () => {
    const page = await (await browser.newContext()).newPage();
    await signInStaff(page, server.url, 'editor@example.com', 'an editor password');
    await page.goto(`${server.url}/admin/sends/new?post=${postId}`);
    await page.getByLabel('Subject line 2').fill('Cold outside, warm cup inside');
    await page.getByLabel(/% of the segment/).fill('30');
    await page.getByLabel('Wait').selectOption('PT1H');
    await page.getByLabel(/seconds to undo/).fill('0');
    await page.getByRole('button', { name: 'Send now' }).click();
    await page.waitForURL(/\/admin\/sends\/\d+$/);
    const sendId = page.url().split('/').at(-1)!;

    // The sample: 30 members, 15 per subject; the rest waits.
    await waitFor(
      () =>
        t.db
          .selectFrom('deliveries')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('send_id', '=', sendId)
          .where('status', '=', 'posted')
          .executeTakeFirstOrThrow(),
      { until: (r) => Number(r.n) === 30, timeout: 30_000, what: 'the sample' },
    );
    await page.reload();
    const table = page.getByTestId('subject-variants');
    await expect(table.locator('[data-variant="0"] td').nth(1).textContent()).resolves.toBe('15');
    await expect(table.locator('[data-variant="1"] td').nth(1).textContent()).resolves.toBe('15');
    await expect(page.getByTestId('winner-rule').textContent()).resolves.toMatch(/No winner yet/);

    await table.locator('[data-variant="1"]').getByRole('button', { name: 'Send this one to the rest' }).click();
    await page
      .getByTestId('send-status')
      .filter({ hasText: /^sent$/ })
      .waitFor({ timeout: 30_000 });
    await expect(page.getByTestId('winner-rule').textContent()).resolves.toMatch(/Winner: picked by/);
    await expect(page.locator('[data-winner="yes"] td').first().textContent()).resolves.toContain('Cold outside, warm cup inside');
    const counts = resend.countByRecipient();
    expect(counts.size).toBe(MEMBERS);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);
});
