import { sql, type Kysely } from 'kysely';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import type { Database } from '../../db/types.ts';
import { waitFor } from './wait.ts';

/** Debian's Chromium (playwright cannot download its own here), offline and sandbox-free for root. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-gpu',
    ],
  });
}

/** Signs staff in through the admin's own form and waits for the dashboard. */
export async function signInStaff(page: Page, siteUrl: string, email: string, password: string): Promise<void> {
  await page.goto(siteUrl + '/admin/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(siteUrl + '/admin');
}

/**
 * The first link of `kind` in the latest email to `email`, on `siteUrl`: read from the outbox (the
 * site's own record of mail when no provider is configured), waited for up to 30 s.
 */
export async function linkFromOutbox(
  db: Kysely<Database>,
  siteUrl: string,
  email: string,
  kind: 'signin/verify' | 'confirm',
): Promise<string> {
  const link = await waitFor(
    async () => {
      const row = await db
        .selectFrom('outbox')
        .select('text')
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return new RegExp(`(http://\\S+/${kind}\\?token=\\S+)`).exec(row?.text ?? '')?.[1];
    },
    { timeout: 30_000, what: `a ${kind} link for ${email}` },
  );
  return link.replace(/^http:\/\/[^/]+/, siteUrl);
}

/**
 * A member signs in from the sign-in form on the page (the sign-in page, or a page that shows the
 * form): the address, the emailed link, the confirming button. Where the sign-in lands is the test's.
 */
export async function signInMember(page: Page, db: Kysely<Database>, siteUrl: string, email: string): Promise<void> {
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.getByTestId('sent').waitFor();
  await page.goto(await linkFromOutbox(db, siteUrl, email, 'signin/verify'));
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * The post editor's Markdown field once CodeMirror has taken it over. Until its script has run, the
 * label names the plain textarea, which CodeMirror then hides: a click aimed at that textarea waits
 * for a hidden element until it times out (a slow machine runs the script after the page shows).
 */
export async function markdownEditor(page: Page): Promise<Locator> {
  await page.locator('.cm-content[aria-labelledby="post-markdown-label"]').waitFor();
  return page.getByLabel(/^Markdown/);
}

/**
 * Replaces the post editor's Markdown (CodeMirror, labelled "Markdown") by typing it, as a writer
 * does: key presses reach CodeMirror's own input handling, which a programmatic fill may bypass.
 */
export async function typeMarkdown(page: Page, text: string): Promise<void> {
  await (await markdownEditor(page)).click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.type(text);
}
