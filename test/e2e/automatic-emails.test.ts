import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSiteSettings } from '../../src/domain/site/settings.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium, signInStaff } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

/**
 * The live previews in Chromium: the automatic email editor's preview follows the text as it is
 * typed, and the design page's sample email follows the form, neither saving anything.
 */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  t = await createTestDatabase();
  await createStaffUser(t.db, { email: 'owner@example.com', password: 'an owner password', role: 'owner' });
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

describe('live previews', () => {
  it('the welcome email editor previews what is typed, for the sample member, without saving', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signInStaff(page, server.url, 'owner@example.com', 'an owner password');
    await page.goto(`${server.url}/admin/emails/welcome?language=en`);
    const frame = async (id: string) => (await page.locator(`#${id}`).getAttribute('srcdoc')) ?? '';
    expect(await frame('email-preview')).toContain('Reply to any email to reach a person.');
    await page.locator('textarea[name="markdown"]').fill('');
    await page.locator('textarea[name="markdown"]').pressSequentially('Good morning **{{member.name}}**');
    await expect.poll(() => frame('email-preview'), { timeout: 30_000 }).toContain('Good morning <strong>Alex Sample</strong>');
    const versions = await t.db.selectFrom('automatic_email_versions').select('id').execute();
    expect(versions).toEqual([]);
  });

  it('the design page refreshes its sample email as the form changes, without saving', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signInStaff(page, server.url, 'owner@example.com', 'an owner password');
    await page.goto(`${server.url}/admin/design`);
    const frame = async (id: string) => (await page.locator(`#${id}`).getAttribute('srcdoc')) ?? '';
    await page.locator('textarea[name="footer_text"]').fill('Roasted in small batches');
    await expect.poll(() => frame('design-email'), { timeout: 30_000 }).toContain('Roasted in small batches');
    await page.locator('select[name="button_style"]').selectOption('pill');
    await expect.poll(() => frame('design-email'), { timeout: 30_000 }).toContain('border-radius:22px');
    expect((await getSiteSettings(t.db)).design.footerText).toBe('');
  });

  it('the list and the editor fit a 360 px phone', async () => {
    const page = await (await browser.newContext({ viewport: { width: 360, height: 780 } })).newPage();
    await signInStaff(page, server.url, 'owner@example.com', 'an owner password');
    for (const route of ['/admin/emails', '/admin/emails/referral_milestone?language=fr']) {
      await page.goto(server.url + route);
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      expect(scroll, route).toBeLessThanOrEqual(inner);
    }
  });
});
