import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, typeMarkdown } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startDnsTestServer, type DnsTestServer } from '../servers/dns.ts';
import { startResendTestServer, type ResendTestServer } from '../servers/resend.ts';

/**
 * A brand's own install, from an empty external database to its first send, driven only through
 * the admin UI in Chromium (issue 14's "Done when"): the owner is created at /admin/setup, a
 * newsletter with a Reply-To at /admin/newsletters; a reader subscribes from /join/instagram;
 * opening the confirmation link shows a button and leaves them pending, pressing it confirms; the
 * welcome email carries the newsletter's Reply-To; a post is written and emailed and arrives at
 * the Resend test server; the checklist shows the missing DNS records (a local DNS server) and
 * turns green when they exist. Nothing is loaded from another origin. The test never writes to
 * the database: it only reads it to check what the pages claim.
 */
let t: TestDatabase;
let dns: DnsTestServer;
let resend: ResendTestServer;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  t = await createTestDatabase();
  dns = await startDnsTestServer();
  resend = await startResendTestServer();
  server = await startServer({
    databaseUrl: t.url,
    env: {
      DNS_SERVERS: dns.address,
      MAIL_FROM: 'letters@kiln.coffee',
      RESEND_API_KEY: 're_test_key',
      RESEND_BASE_URL: resend.url,
    },
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await resend?.close();
  await dns?.close();
  await t?.drop();
});

const state = (page: Page, id: string) => page.locator(`[data-item="${id}"]`).getAttribute('data-state');
const emailTo = (to: string, subject: RegExp) =>
  waitFor(() => resend.emails.find((e) => e.to.includes(to) && subject.test(e.subject)), {
    timeout: 30_000,
    what: `an email to ${to} matching ${subject}`,
  });

describe('a fresh install driven only through the admin, in Chromium', () => {
  it('goes from an empty database to a confirmed reader and a first send, with Reply-To and DNS checks', async () => {
    expect(await t.db.selectFrom('newsletters').select('id').execute()).toEqual([]);
    const offOrigin: string[] = [];
    const watch = (page: Page) =>
      page.on('request', (r) => {
        if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) offOrigin.push(r.url());
      });

    // The reader side before anything exists: not open, never a 400.
    const reader = await (await browser.newContext()).newPage();
    watch(reader);
    const closed = await reader.goto(server.url + '/join/instagram');
    expect(closed!.status()).toBe(200);
    await expect(reader.locator('.not-open').textContent()).resolves.toContain('Not open for subscriptions yet');

    // The owner account, from the setup page the admin sends a fresh install to.
    const admin = await (await browser.newContext()).newPage();
    watch(admin);
    await admin.goto(server.url + '/admin');
    expect(new URL(admin.url()).pathname).toBe('/admin/setup');
    await admin.getByLabel('Your name').fill('Kim Owner');
    await admin.getByLabel('Email').fill('kim@kiln.coffee');
    await admin.getByLabel(/^Password/).fill('a long owner password');
    await admin.getByRole('button', { name: 'Create owner account' }).click();
    await admin.waitForURL(server.url + '/admin');

    // The dashboard's checklist: no newsletter, the DNS records missing on the local DNS server.
    await expect(admin.getByTestId('install-checklist').isVisible()).resolves.toBe(true);
    expect(await state(admin, 'newsletter')).toBe('todo');
    await admin.goto(server.url + '/admin/checklist');
    for (const id of ['newsletter', 'spf', 'dkim', 'dmarc', 'test_email']) expect(await state(admin, id)).toBe('todo');
    for (const id of ['sender', 'resend']) expect(await state(admin, id)).toBe('done');
    await expect(admin.getByTestId('record-spf').textContent()).resolves.toMatch(
      /send\.kiln\.coffee[^]*v=spf1 include:amazonses\.com ~all/,
    );
    await expect(admin.getByTestId('record-dkim').textContent()).resolves.toContain('resend._domainkey.kiln.coffee');
    await expect(admin.getByTestId('record-dmarc').textContent()).resolves.toMatch(/_dmarc\.kiln\.coffee[^]*v=DMARC1/);
    expect(dns.questions).toEqual(
      expect.arrayContaining(['TXT send.kiln.coffee', 'TXT resend._domainkey.kiln.coffee', 'TXT _dmarc.kiln.coffee']),
    );
    await admin.screenshot({ path: join(ROOT, 'test-results', 'install-checklist-todo.png'), fullPage: true });

    // The records are added at the DNS host; "Check again" turns the lines green.
    dns.records.set('send.kiln.coffee', { txt: ['v=spf1 include:amazonses.com ~all'] });
    dns.records.set('resend._domainkey.kiln.coffee', { txt: [`p=${'M'.repeat(216)}`] });
    dns.records.set('_dmarc.kiln.coffee', { txt: ['v=DMARC1; p=none; rua=mailto:dmarc@kiln.coffee'] });
    await admin.getByRole('button', { name: 'Check again' }).click();
    await admin.waitForURL(/\/admin\/checklist\?fresh=1$/);
    for (const id of ['spf', 'dkim', 'dmarc']) expect(await state(admin, id)).toBe('done');
    expect(await admin.getByTestId('record-spf').count()).toBe(0);

    // The test email to yourself goes out through the worker and Resend.
    await admin.getByRole('button', { name: 'Send a test email' }).click();
    await admin.waitForURL(/\/admin\/checklist\?queued=1$/);
    await emailTo('kim@kiln.coffee', /Test email/);
    await waitFor(
      async () => {
        await admin.goto(server.url + '/admin/checklist');
        return state(admin, 'test_email');
      },
      { until: (s) => s === 'done', what: 'the test email line to turn green' },
    );

    // The brand's name: the display name of every email without a sender name of its own.
    await admin.getByRole('link', { name: 'Settings' }).first().click();
    await admin.getByLabel('Name', { exact: true }).fill('Kiln Coffee');
    await admin.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(admin.getByRole('status').first().textContent()).resolves.toBe('Saved.');

    // A first newsletter, with its own Reply-To.
    await admin.getByRole('link', { name: 'Newsletters' }).first().click();
    await admin.waitForURL(server.url + '/admin/newsletters');
    await expect(admin.getByRole('status').first().textContent()).resolves.toContain('No newsletter yet');
    await admin.getByLabel('Name', { exact: true }).fill('The Kiln Letter');
    await admin.getByLabel(/^Slug/).fill('kiln-letter');
    await admin.getByLabel(/^Description/).fill('Roasts, once a week.');
    await admin.getByLabel(/^Reply-To/).fill('hello@kiln.coffee');
    await admin.getByLabel(/The default/).check();
    await admin.getByRole('button', { name: 'Create newsletter' }).click();
    await expect(admin.getByRole('status').first().textContent()).resolves.toContain('"The Kiln Letter" created (the default)');
    await expect(admin.locator('tbody').textContent()).resolves.toContain('replies to hello@kiln.coffee');
    await admin.goto(server.url + '/admin/checklist');
    expect(await state(admin, 'newsletter')).toBe('done');

    // The reader subscribes from the Instagram landing page.
    await reader.goto(server.url + '/join/instagram?utm_source=instagram&utm_medium=social');
    expect(await reader.locator('.not-open').count()).toBe(0);
    await reader.getByLabel('Your first name').fill('Ana');
    await reader.getByLabel('Email address').fill('ana@readers.net');
    await reader.getByRole('button', { name: 'Subscribe' }).click();
    await reader.waitForURL(server.url + '/subscribe/check-inbox');

    // The confirmation email, as Resend received it: its link shows a button and changes nothing.
    const confirmation = await emailTo('ana@readers.net', /confirm/i);
    expect(confirmation.replyTo).toBe('hello@kiln.coffee');
    const link = /(http:\/\/\S+?\/confirm\?token=[^\s"<]+)/.exec(confirmation.text ?? '')?.[1];
    expect(link).toBeDefined();
    expect(link!.startsWith(server.url)).toBe(true);
    await reader.goto(link!);
    await reader.getByTestId('confirm-button').waitFor();
    const pending = await t.db
      .selectFrom('members')
      .select(['status', 'source_platform'])
      .where('email', '=', 'ana@readers.net')
      .executeTakeFirstOrThrow();
    expect(pending).toEqual({ status: 'pending', source_platform: 'instagram' });
    expect(resend.emails.some((e) => e.to.includes('ana@readers.net') && /welcome/i.test(e.subject))).toBe(false);

    // Pressing the button (a POST from the page) confirms.
    await reader.getByRole('button', { name: 'Confirm my subscription' }).click();
    await expect(reader.getByTestId('confirmed').textContent()).resolves.toBe("You're subscribed");
    await expect(reader.locator('.message').textContent()).resolves.toContain('The Kiln Letter');
    const confirmed = await t.db.selectFrom('members').select('status').where('email', '=', 'ana@readers.net').executeTakeFirstOrThrow();
    expect(confirmed.status).toBe('active');

    // The welcome email carries the newsletter's Reply-To and comes from the site's name.
    const welcome = await emailTo('ana@readers.net', /welcome/i);
    expect(welcome.replyTo).toBe('hello@kiln.coffee');
    expect(welcome.from).toBe('"Kiln Coffee" <letters@kiln.coffee>');

    // A post written in the admin and emailed to the newsletter.
    await admin.goto(server.url + '/admin/posts/new');
    await admin.getByLabel('Title', { exact: true }).fill('Our first roast');
    await typeMarkdown(admin, 'The **first** batch is out of the drum.');
    await admin.locator('select[name="status"]').selectOption('published');
    await admin.getByRole('button', { name: 'Save', exact: true }).click();
    await admin.waitForURL(/\/admin\/posts\/[^/?]+\?saved=1$/);
    await admin.getByTestId('email-post').click();
    await expect(admin.getByRole('checkbox', { name: 'The Kiln Letter' }).isChecked()).resolves.toBe(true);
    await admin.getByRole('button', { name: 'Count recipients' }).click();
    await expect(admin.getByTestId('recipient-count').textContent()).resolves.toBe('1 member');
    await admin.getByLabel(/seconds to undo/).fill('0');
    await admin.getByRole('button', { name: 'Send now' }).click();
    await admin.waitForURL(/\/admin\/sends\/[^/?]+$/);
    await admin
      .getByTestId('send-status')
      .filter({ hasText: /^sent$/ })
      .waitFor({ timeout: 30_000 });
    const post = await emailTo('ana@readers.net', /Our first roast/);
    expect(post.replyTo).toBe('hello@kiln.coffee');
    expect(post.html).toContain('<strong>first</strong>');
    expect(post.headers?.['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    await admin.screenshot({ path: join(ROOT, 'test-results', 'install-first-send.png'), fullPage: true });

    // Everyone who got mail got it once; nothing went anywhere but the site and the test servers.
    expect(resend.countByRecipient().get('ana@readers.net')).toBe(3);
    expect(offOrigin).toEqual([]);
  }, 180_000);
});
