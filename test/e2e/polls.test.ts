import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { createPoll } from '../../src/domain/polls/polls.ts';
import { launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

/** A signed-in member answers a poll in a post, in Chromium, then changes the answer; the results follow. */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
let slug: string;
let pollId: string;
let memberToken: string;
let memberId: string;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 2);
  const poll = await createPoll(t.db, { question: 'Pour-over or espresso?', answers: ['Pour-over', 'Espresso'] }, null);
  pollId = poll.id;
  const postId = await makePost(t.db, { title: 'Brewing', markdown: `How do you brew?\n\n{{poll:${poll.id}}}` });
  slug = (await t.db.selectFrom('posts').select('slug').where('id', '=', postId).executeTakeFirstOrThrow()).slug;
  memberId = (await t.db.selectFrom('members').select('id').orderBy('id').executeTakeFirstOrThrow()).id;
  memberToken = (await createMemberSession(t.db, memberId)).token;
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

describe('a poll on the web, in Chromium', () => {
  it('shows a sign-in prompt to an anonymous reader, and a form a member answers and changes', async () => {
    const anonymous = await (await browser.newContext()).newPage();
    await anonymous.goto(`${server.url}/posts/${slug}`);
    await expect(anonymous.locator('.poll-signin').textContent()).resolves.toContain('to answer');
    expect(await anonymous.locator('.poll-form').count()).toBe(0);

    const context = await browser.newContext();
    await context.addCookies([{ name: 'hearth_member', value: memberToken, url: server.url }]);
    const page = await context.newPage();
    await page.goto(`${server.url}/posts/${slug}`);
    await page.getByLabel('Espresso').check();
    await page.getByRole('button', { name: 'Answer' }).click();
    await page.waitForURL(`${server.url}/posts/${slug}`);
    await expect(page.locator('li[data-answer="1"] .poll-count').textContent()).resolves.toContain('1 · 100%');
    await expect(page.locator('li[data-answer="1"]').textContent()).resolves.toContain('(your answer)');

    await page.getByLabel('Pour-over').check();
    await page.getByRole('button', { name: 'Change my answer' }).click();
    await page.waitForURL(`${server.url}/posts/${slug}`);
    await expect(page.locator('li[data-answer="0"] .poll-count').textContent()).resolves.toContain('1 · 100%');
    const votes = await t.db.selectFrom('poll_votes').selectAll().where('poll_id', '=', pollId).execute();
    expect(votes).toMatchObject([{ member_id: memberId, answer: 0, channel: 'web', changes: 1 }]);
  });
});
