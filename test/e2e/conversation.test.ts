import { join } from 'node:path';
import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { sendCommentNotifications } from '../../src/domain/community/notifications.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium, signInStaff } from '../helpers/browser.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/** A paid member asks a question; a moderator answers it from the inbox; the member sees the badged answer. */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
let memberToken = '';
const SLUG = 'roast-profiles-we-never-published';
const QUESTION = 'Do you rest the beans longer after a lighter roast?';
const ANSWER = 'Yes: about ten days for the light roasts, a week for the rest.';
const THANKS = 'Thank you, I will wait the ten days.';

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  const member = await t.db
    .insertInto('members')
    .values({
      email: 'asker@example.com',
      name: 'Asha',
      status: 'active',
      tier_id: sql<string>`(select id from tiers where slug = 'supporter')` as unknown as string,
      referral_code: 'asker-code',
      created_at: sql<Date>`now() - interval '1 year'` as unknown as Date,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  memberToken = (await createMemberSession(t.db, member.id)).token;
  await createStaffUser(t.db, { email: 'mod@example.com', password: 'a long moderator password', role: 'moderator', name: 'Mo' });
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

describe('a question answered by the brand, in Chromium', () => {
  it('asks, answers from the inbox, and shows the answer badged as from the brand, loading nothing from elsewhere', async () => {
    const offOrigin: string[] = [];
    const watch = (page: import('playwright-core').Page) =>
      page.on('request', (req) => void (!req.url().startsWith(server.url) && !req.url().startsWith('data:') && offOrigin.push(req.url())));

    // The paid member asks, with the plain form (no JavaScript involved).
    const memberContext = await browser.newContext({ javaScriptEnabled: false });
    await memberContext.addCookies([{ name: 'hearth_member', value: memberToken, url: server.url }]);
    const reader = await memberContext.newPage();
    watch(reader);
    await reader.goto(`${server.url}/posts/${SLUG}`);
    await reader.getByLabel('Join the conversation').fill(QUESTION);
    await reader.getByLabel('This is a question for Field Notes Coffee').check();
    await reader.getByRole('button', { name: 'Post', exact: true }).click();
    await reader.waitForURL(/\?c=posted#comment-\d+$/);
    const asked = reader.getByTestId('comment').filter({ hasText: QUESTION });
    await expect(asked.getByTestId('question-badge').textContent()).resolves.toBe('Question');

    // The moderator signs in, finds it at the top of the questions inbox and answers.
    const staffContext = await browser.newContext();
    const mod = await staffContext.newPage();
    watch(mod);
    await signInStaff(mod, server.url, 'mod@example.com', 'a long moderator password');
    await mod.getByRole('link', { name: 'Conversation' }).click();
    await mod.getByRole('link', { name: 'Questions' }).click();
    const item = mod.getByTestId('moderation-item').first();
    await expect(item.textContent()).resolves.toContain(QUESTION);
    await expect(item.getByTestId('question-state').textContent()).resolves.toBe('Waiting for an answer');
    await item.getByLabel('Your answer').fill(ANSWER);
    await item.getByRole('button', { name: 'Post the answer' }).click();
    await mod.getByText('Answered: your reply is under the question').waitFor();
    await expect(mod.getByTestId('question-state').first().textContent()).resolves.toMatch(/^Answered/);

    // The member sees the answer right under the question, badged as from the brand.
    await reader.goto(`${server.url}/posts/${SLUG}`);
    const thread = reader.getByTestId('comment').filter({ hasText: QUESTION }).first();
    await expect(thread.getByTestId('answered-badge').textContent()).resolves.toBe('Answered by Field Notes Coffee');
    const answer = thread.getByTestId('comment').first();
    await expect(answer.textContent()).resolves.toContain(ANSWER);
    await expect(answer.getByTestId('brand-badge').textContent()).resolves.toBe('Field Notes Coffee');
    await reader.screenshot({ path: join(ROOT, 'test-results', 'answered-question.png'), fullPage: true });

    // The member thanks them: "Reply" leads to the answer's own page with the reply form, which
    // posts and returns to the post (still no JavaScript).
    await answer.getByRole('link', { name: 'Reply', exact: true }).click();
    await reader.waitForURL(/\/comments\/\d+#reply$/);
    await expect(reader.getByTestId('comment').textContent()).resolves.toContain(ANSWER);
    await reader.getByLabel('Your reply').fill(THANKS);
    await reader.getByRole('button', { name: 'Post reply' }).click();
    await reader.waitForURL(/\?c=posted#comment-\d+$/);
    await expect(thread.textContent()).resolves.toContain(THANKS);

    // And gets one email about it (the batch job, run here instead of waiting for its schedule).
    await sendCommentNotifications(t.db, { secret: TEST_SECRET, siteUrl: server.url });
    const subject = await waitFor(
      async () =>
        (
          await t.db
            .selectFrom('outbox')
            .select('subject')
            .where(sql<boolean>`'asker@example.com' = any(to_addresses)`)
            .executeTakeFirst()
        )?.subject,
      { timeout: 30_000, what: 'the email to asker@example.com' },
    );
    expect(subject).toBe('Field Notes Coffee answered your question');
    expect(offOrigin).toEqual([]);
  });
});
