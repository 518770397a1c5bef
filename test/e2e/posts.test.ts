import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium, signInStaff, typeMarkdown } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';

/** Staff write and publish a members-only post with an image; an anonymous reader gets the preview. */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
const uploads = mkdtempSync(join(tmpdir(), 'hearth-e2e-uploads-'));
// A real 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  await createStaffUser(t.db, { email: 'editor@example.com', password: 'an editor password', role: 'editor' });
  server = await startServer({ databaseUrl: t.url, env: { UPLOADS_DIR: uploads } });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
  rmSync(uploads, { recursive: true, force: true });
});

describe('writing and publishing a members-only post', () => {
  it('works in Chromium, and an anonymous reader sees only the preview and the invitation', async () => {
    const staff = await (await browser.newContext()).newPage();
    await signInStaff(staff, server.url, 'editor@example.com', 'an editor password');

    await staff.getByRole('link', { name: 'Posts' }).click();
    await staff.getByRole('link', { name: 'Write a post' }).click();
    await staff.getByLabel('Title', { exact: true }).fill('Our cold brew recipe');
    await typeMarkdown(
      staff,
      'Cold brew is patience in a jar.\n\n<!--more-->\n\nUse 100 g of coarse coffee per litre, 18 hours in the fridge.',
    );
    // Live preview, rendered by the server as the editor pauses typing.
    await staff.getByTestId('preview').filter({ hasText: 'Cold brew is patience in a jar.' }).waitFor();
    // A reload before saving (a crash, a failed request) loses nothing: the text can be restored.
    await staff.reload();
    await staff.getByTestId('restore').getByRole('button', { name: 'Restore it' }).click();
    await expect(staff.locator('textarea[name=markdown]').inputValue()).resolves.toContain('18 hours in the fridge');
    await expect(staff.getByLabel('Title', { exact: true }).inputValue()).resolves.toBe('Our cold brew recipe');
    await staff.getByLabel('Who can read it').selectOption('members');
    await staff.getByRole('button', { name: 'Save' }).click();
    await staff.waitForURL(/\/admin\/posts\/\d+\?saved=1$/);

    await staff.locator('input[type=file][name=file]').setInputFiles({ name: 'jar.png', mimeType: 'image/png', buffer: PNG });
    await staff.getByRole('button', { name: 'Upload image' }).click();
    const snippet = (await staff.getByTestId('uploaded').locator('code').first().textContent())!;
    expect(snippet).toMatch(/^!\[describe the image\]\(\/uploads\/.+\.png\)$/);

    await typeMarkdown(
      staff,
      `Cold brew is patience in a jar.\n\n${snippet.replace('describe the image', 'A jar of cold brew')}\n\n<!--more-->\n\nUse 100 g of coarse coffee per litre, 18 hours in the fridge.`,
    );
    await staff.getByLabel('Status').selectOption('published');
    await staff.getByRole('button', { name: 'Save' }).click();
    await staff.waitForURL(/saved=1$/);
    await expect(staff.getByRole('status').first().textContent()).resolves.toContain('Saved (revision 2)');
    await staff.screenshot({ path: join(ROOT, 'test-results', 'post-editor.png'), fullPage: true });

    const offOrigin: string[] = [];
    const reader = await (await browser.newContext()).newPage();
    reader.on('request', (r) => {
      if (!r.url().startsWith(server.url)) offOrigin.push(r.url());
    });
    await reader.goto(server.url + '/posts/our-cold-brew-recipe');
    await expect(reader.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Our cold brew recipe');
    await expect(reader.locator('.post-body').textContent()).resolves.toContain('Cold brew is patience in a jar.');
    const width = await reader.getByRole('img', { name: 'A jar of cold brew' }).evaluate((img: HTMLImageElement) =>
      img.complete && img.naturalWidth
        ? img.naturalWidth
        : new Promise<number>((done) => {
            img.addEventListener('load', () => done(img.naturalWidth));
            img.addEventListener('error', () => done(0));
          }),
    );
    expect(width).toBe(1); // the uploaded image, served by this site
    await expect(reader.getByTestId('paywall').textContent()).resolves.toContain('This post is for members');
    expect(await reader.content()).not.toContain('18 hours in the fridge');
    await reader.getByRole('link', { name: 'Subscribe' }).last().click();
    await reader.waitForURL(/\/join\?utm_source=paywall/);
    await reader.goBack();
    await reader.screenshot({ path: join(ROOT, 'test-results', 'post-paywall.png'), fullPage: true });
    expect(offOrigin).toEqual([]);
  });
});
