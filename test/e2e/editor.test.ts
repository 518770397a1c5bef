import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium, markdownEditor, signInStaff } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/** The post editor in Chromium: a new post with a pasted and a dropped image, never saved before, published. */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
const uploads = mkdtempSync(join(tmpdir(), 'hearth-e2e-editor-'));
const SHOTS = join(ROOT, 'test-results', 'screenshots');
// Real images: a 1×1 PNG and a 1×1 GIF.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const GIF = 'R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==';

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  await createStaffUser(t.db, { email: 'editor@example.com', password: 'an editor password', role: 'editor' });
  await createStaffUser(t.db, { email: 'owner@example.com', password: 'an owner password', role: 'owner' });
  server = await startServer({ databaseUrl: t.url, env: { UPLOADS_DIR: uploads } });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
  rmSync(uploads, { recursive: true, force: true });
});

/** Fires a paste or a drop of one image file on CodeMirror's content, as the browser would. */
async function giveImage(page: Page, how: 'paste' | 'drop', base64: string, name: string, type: string): Promise<void> {
  await page.locator('.cm-content').evaluate(
    (el, { how, base64, name, type }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], name, { type }));
      const box = el.getBoundingClientRect();
      const event =
        how === 'paste'
          ? new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true })
          : new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true, clientX: box.left + 5, clientY: box.bottom - 5 });
      el.dispatchEvent(event);
    },
    { how, base64, name, type },
  );
}

describe('the post editor', () => {
  it('writes a new post with a pasted and a dropped image, without saving first, and publishes it', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const alts = ['A jar of cold brew', 'The roaster at dawn'];
    page.on('dialog', (dialog) => void dialog.accept(alts.shift() ?? ''));
    await signInStaff(page, server.url, 'editor@example.com', 'an editor password');
    await page.goto(server.url + '/admin/posts/new');

    // Writing and preview side by side on a wide screen.
    const write = (await page.locator('.pane-write').boundingBox())!;
    const preview = (await page.locator('.pane-preview').boundingBox())!;
    expect(preview.x).toBeGreaterThan(write.x + write.width - 1);
    expect(Math.abs(preview.y - write.y)).toBeLessThan(40);

    await page.getByLabel('Title', { exact: true }).fill('Cold brew, step by step');
    const editor = await markdownEditor(page);
    await editor.click();
    await page.keyboard.type('Cold brew is patience in a jar');
    // Ctrl+B on the selected word.
    await page.keyboard.press('Shift+Control+ArrowLeft');
    await page.keyboard.press('Control+b');
    await page.keyboard.press('End');
    await page.keyboard.type('.');
    await page.getByRole('button', { name: 'Preview cut' }).click();

    await giveImage(page, 'paste', PNG, 'jar.png', 'image/png');
    await waitFor(async () => /!\[A jar of cold brew\]\(\/uploads\/[^)]+\.png\)/.test(await markdownValue(page)) || undefined, {
      timeout: 30_000,
      what: 'the pasted image in the Markdown',
    });
    await page.keyboard.type('Use 100 g of coarse coffee per litre.');
    await giveImage(page, 'drop', GIF, 'roaster.gif', 'image/gif');
    await waitFor(async () => /!\[The roaster at dawn\]\(\/uploads\/[^)]+\.gif\)/.test(await markdownValue(page)) || undefined, {
      timeout: 30_000,
      what: 'the dropped image in the Markdown',
    });

    const markdown = await markdownValue(page);
    expect(markdown).toContain('Cold brew is patience in a **jar**.');
    expect(markdown).toContain('<!--more-->');
    expect(markdown.indexOf('<!--more-->')).toBeLessThan(markdown.indexOf('![A jar'));
    // The preview follows the text, with the uploaded image in it.
    await page.getByTestId('preview').getByRole('img', { name: 'A jar of cold brew' }).waitFor();
    await expect(page.getByTestId('word-count').textContent()).resolves.toMatch(/^1[0-9] words · about 1 min read$/);
    await page.screenshot({ path: join(SHOTS, 'editor.png') });

    await page.getByLabel('Status').selectOption('published');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/admin\/posts\/\d+\?saved=1$/);
    // Opened again, the preview is already filled.
    await expect(page.getByTestId('preview').textContent()).resolves.toContain('Cold brew is patience');

    const reader = await (await browser.newContext()).newPage();
    await reader.goto(server.url + '/posts/cold-brew-step-by-step');
    for (const name of ['A jar of cold brew', 'The roaster at dawn']) {
      // Post images load lazily: the page's load event does not wait for one below the fold. In
      // view, decode() waits for it and fails if the file does not load.
      const image = reader.getByRole('img', { name });
      await image.scrollIntoViewIfNeeded();
      const width = await image.evaluate(async (img: HTMLImageElement) => {
        await img.decode();
        return img.naturalWidth;
      });
      expect(width).toBe(1);
    }
    await expect(reader.locator('script').count()).resolves.toBe(0);
    await reader.context().close();
    await page.context().close();
  });

  it('toggles between writing and preview on a phone, and uploads a feature image in place', async () => {
    const page = await (await browser.newContext({ viewport: { width: 360, height: 780 } })).newPage();
    await signInStaff(page, server.url, 'editor@example.com', 'an editor password');
    await page.goto(server.url + '/admin/posts/new');
    await expect(page.locator('.pane-preview').isVisible()).resolves.toBe(false);
    await (await markdownEditor(page)).click();
    await page.keyboard.type('Short and sweet.');
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await page.getByTestId('preview').filter({ hasText: 'Short and sweet.' }).waitFor();
    await expect(page.locator('.pane-write').isVisible()).resolves.toBe(false);
    await page.getByRole('button', { name: 'Write', exact: true }).click();
    await expect(page.locator('.pane-write').isVisible()).resolves.toBe(true);

    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Upload a feature image…' }).click();
    await (await chooser).setFiles({ name: 'cover.png', mimeType: 'image/png', buffer: Buffer.from(PNG, 'base64') });
    await waitFor(async () => /^\/uploads\/.+\.png$/.test(await page.getByLabel(/^Feature image/).inputValue()) || undefined, {
      timeout: 30_000,
      what: 'the feature image path',
    });
    const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
    expect(scroll).toBeLessThanOrEqual(inner);
    await page.context().close();
  });
});

describe('image fields', () => {
  it("chooses a post's feature image and the site's logo from the recent uploads", async () => {
    // An image already in the library (an earlier upload).
    mkdirSync(join(uploads, '2020-01'), { recursive: true });
    writeFileSync(join(uploads, '2020-01', 'PickMePickMe0001.png'), Buffer.from(PNG, 'base64'));
    const path = '/uploads/2020-01/PickMePickMe0001.png';
    const page = await (await browser.newContext({ viewport: { width: 360, height: 780 } })).newPage();
    await signInStaff(page, server.url, 'owner@example.com', 'an owner password');

    await page.goto(server.url + '/admin/posts/new');
    await page.getByLabel('Title', { exact: true }).fill('Picked from the library');
    await (await markdownEditor(page)).click();
    await page.keyboard.type('A post with a feature image chosen from the uploads.');
    const feature = page.locator('[data-image-field="feature_image"]');
    await feature.getByText(/^Choose from recent uploads/).click();
    await feature.getByRole('button', { name: `Use ${path}` }).click();
    await expect(page.getByLabel(/^Feature image/).inputValue()).resolves.toBe(path);
    await expect(feature.locator('[data-image-preview]').getAttribute('src')).resolves.toBe(path);
    // The picker closes on a choice; the chosen upload is marked.
    await expect(feature.locator(`[data-pick="${path}"]`).getAttribute('aria-pressed')).resolves.toBe('true');
    const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
    expect(scroll).toBeLessThanOrEqual(inner);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/admin\/posts\/\d+\?saved=1$/);
    const post = await t.db
      .selectFrom('posts')
      .select('feature_image')
      .where('title', '=', 'Picked from the library')
      .executeTakeFirstOrThrow();
    expect(post.feature_image).toBe(path);

    await page.goto(server.url + '/admin/design');
    const logo = page.locator('[data-image-field="logo"]');
    await logo.getByText(/^Choose from recent uploads/).click();
    await logo.getByRole('button', { name: `Use ${path}` }).click();
    await expect(page.getByLabel(/^Logo or header image/).inputValue()).resolves.toBe(path);
    const design = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
    expect(design.scroll).toBeLessThanOrEqual(design.inner);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForLoadState();
    const { getSiteSettings } = await import('../../src/domain/site/settings.ts');
    await waitFor(async () => (await getSiteSettings(t.db)).logo === path || undefined, { timeout: 30_000, what: 'the logo saved' });
    await page.context().close();
  });
});

function markdownValue(page: Page): Promise<string> {
  return page.locator('textarea[name=markdown]').inputValue();
}
