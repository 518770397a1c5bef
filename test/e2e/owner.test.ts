import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';

/** Debian's Chromium, driven by playwright-core, against the real built server. */
const ARTIFACTS = join(ROOT, 'test-results');

let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
const offOrigin: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 30 });
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

describe('owner setup → sign in → dashboard → sign out, in Chromium', () => {
  it('works end to end with plain forms and loads nothing from another origin', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('request', (req) => {
      if (!req.url().startsWith(server.url) && !req.url().startsWith('data:')) offOrigin.push(req.url());
    });

    await page.goto(server.url + '/admin');
    expect(new URL(page.url()).pathname).toBe('/admin/setup');
    await page.getByLabel('Your name').fill('Olu Owner');
    await page.getByLabel('Email').fill('owner@example.com');
    await page.getByLabel(/^Password/).fill('a long owner password');
    await page.getByRole('button', { name: 'Create owner account' }).click();
    await page.waitForURL(server.url + '/admin');
    await expect(page.getByRole('heading', { name: 'Dashboard' }).isVisible()).resolves.toBe(true);
    expect(await page.getByTestId('members-count').textContent()).toBe('30');

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(server.url + '/admin/signin');

    await page.getByLabel('Email').fill('owner@example.com');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('do not match');

    await page.getByLabel('Password').fill('a long owner password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(server.url + '/admin');
    await expect(page.locator('.who').textContent()).resolves.toContain('owner@example.com · owner');
    await page.screenshot({ path: join(ARTIFACTS, 'admin-dashboard.png'), fullPage: true });

    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Name').fill('newsletter sync');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').textContent())!.trim();
    const api = await fetch(server.url + '/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
    expect(await api.json()).toEqual({ staff: expect.objectContaining({ email: 'owner@example.com', role: 'owner' }) });

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(server.url + '/admin/signin');
    await page.goto(server.url + '/admin/outbox');
    expect(new URL(page.url()).pathname).toBe('/admin/signin');

    await page.goto(server.url + '/');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Field Notes Coffee');
    await page.screenshot({ path: join(ARTIFACTS, 'home.png'), fullPage: true });
    expect(offOrigin).toEqual([]);
    await context.close();
  });
});
