import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * A brand's own install driven only through the browser, from an EMPTY database (no demo): the
 * owner is created at /admin, the site says it is not open yet, the owner creates a newsletter
 * with a reply-to in Admin → Newsletters, a reader subscribes from /join/instagram, confirms, and
 * the welcome email carries the newsletter's Reply-To (read from the local outbox, which keeps
 * each email's headers).
 */
const ARTIFACTS = join(ROOT, 'test-results');
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  t = await createTestDatabase();
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

const outboxTo = (email: string, subject: RegExp) =>
  waitFor(
    async () =>
      (
        await t.db
          .selectFrom('outbox')
          .select(['subject', 'from_address', 'text', 'headers'])
          .where(sql<boolean>`${email} = any(to_addresses)`)
          .orderBy('id')
          .execute()
      ).find((e) => subject.test(e.subject)),
    { what: `an email "${subject.source}" to ${email}`, timeout: 30_000 },
  );

describe('from an empty database to a first subscriber, in Chromium', () => {
  it('owner → not open → newsletter with a reply-to → subscribe from /join/instagram → confirm → welcome with the Reply-To', async () => {
    const staff = await browser.newContext();
    const admin = await staff.newPage();
    await admin.goto(server.url + '/admin');
    expect(new URL(admin.url()).pathname).toBe('/admin/setup');
    await admin.getByLabel('Your name').fill('Ada Owner');
    await admin.getByLabel('Email').fill('owner@example.com');
    await admin.getByLabel(/^Password/).fill('a long owner password');
    await admin.getByRole('button', { name: 'Create owner account' }).click();
    await admin.waitForURL(server.url + '/admin');

    const readers = await browser.newContext();
    const reader = await readers.newPage();
    await reader.goto(server.url + '/join/instagram');
    await expect(reader.getByRole('status').textContent()).resolves.toContain('Not open for subscriptions yet');
    expect(await reader.locator('form[action="/subscribe"]').count()).toBe(0);

    // The brand's name: the sender's display name of every email (never "Hearth").
    await admin.getByRole('link', { name: 'Settings' }).click();
    await admin.getByLabel('Name', { exact: true }).fill('Field Notes Coffee');
    await admin.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(admin.getByRole('status').first().textContent()).resolves.toContain('Saved');

    await admin.getByRole('link', { name: 'Newsletters' }).click();
    await admin.waitForURL(server.url + '/admin/newsletters');
    const create = admin.locator('form', { has: admin.locator('input[name="action"][value="create"]') });
    await create.getByLabel('Name', { exact: true }).fill('Field Notes');
    await create.getByLabel(/^Slug/).fill('Field Notes'); // a bad slug first: refused with the rule
    await create.getByLabel(/^Reply-To/).fill('ada@fieldnotes.example');
    // The browser's own check (pattern) stops the form; the server refuses it too (see the HTTP test).
    expect(await create.getByLabel(/^Slug/).evaluate((el) => (el as HTMLInputElement).validity.valid)).toBe(false);
    await create.getByLabel(/^Slug/).fill('field-notes');
    await create.getByRole('button', { name: 'Create newsletter' }).click();
    await expect(admin.getByRole('status').first().textContent()).resolves.toContain('Newsletter "Field Notes" created (the default).');
    await expect(admin.locator('tbody').textContent()).resolves.toContain('replies to ada@fieldnotes.example');
    await admin.screenshot({ path: join(ARTIFACTS, 'admin-newsletters.png'), fullPage: true });

    await reader.goto(server.url + '/join/instagram');
    await reader.getByLabel('Email address').fill('reader@example.com');
    await reader.getByRole('button', { name: 'Subscribe' }).click();
    await reader.waitForURL(server.url + '/subscribe/check-inbox');
    const member = await t.db
      .selectFrom('members')
      .select(['status', 'source_platform'])
      .where('email', '=', 'reader@example.com')
      .executeTakeFirstOrThrow();
    expect(member).toEqual({ status: 'pending', source_platform: 'instagram' });

    const confirmation = await outboxTo('reader@example.com', /Confirm/);
    expect((confirmation.headers as Record<string, string>)['Reply-To']).toBe('ada@fieldnotes.example');
    const link = /(http\S+\/confirm\?token=\S+)/.exec(confirmation.text!)![1]!;
    await reader.goto(link);
    const button = reader.getByTestId('confirm-button');
    if ((await button.count()) > 0) await button.click();
    await waitFor(
      async () => (await t.db.selectFrom('members').select('status').where('email', '=', 'reader@example.com').executeTakeFirst())?.status,
      {
        until: (s) => s === 'active',
        what: 'the member to be active',
      },
    );
    const welcome = await outboxTo('reader@example.com', /Welcome/);
    expect((welcome.headers as Record<string, string>)['Reply-To']).toBe('ada@fieldnotes.example');
    expect(welcome.from_address).toBe('"Field Notes Coffee" <hearth@127.0.0.1>');
    await staff.close();
    await readers.close();
  });
});
