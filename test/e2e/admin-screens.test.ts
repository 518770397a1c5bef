import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { launchChromium, signInStaff } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';

/**
 * Every admin page (and /account) on a phone (360 px) and a desktop (1280 px): nothing wider than
 * the window, and no serious or critical accessibility violation (axe-core, injected into the page).
 * One browser, one page per viewport, one server: a page visit is the unit of cost.
 */
let t: TestDatabase;
let server: RunningServer;
let browser: Browser;
const SHOTS = join(ROOT, 'test-results', 'screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The admin's list and form pages; detail pages are added from the seeded rows. */
const ADMIN_ROUTES = [
  '/admin',
  '/admin/live',
  '/admin/alerts',
  '/admin/checklist',
  '/admin/posts',
  '/admin/posts/new',
  '/admin/polls',
  '/admin/sends',
  '/admin/automations',
  '/admin/outbox',
  '/admin/members',
  '/admin/members/new',
  '/admin/imports',
  '/admin/imports/posts',
  '/admin/referrals',
  '/admin/referrals/milestones',
  '/admin/waves',
  '/admin/fields',
  '/admin/audience',
  '/admin/stats',
  '/admin/stats/sources',
  '/admin/stats/cohorts',
  '/admin/stats/answers',
  '/admin/conversation',
  '/admin/conversation/comments',
  '/admin/conversation/questions',
  '/admin/conversation/bans',
  '/admin/conversation/settings',
  '/admin/fediverse',
  '/admin/settings',
  '/admin/design',
  '/admin/emails',
  '/admin/emails/welcome',
  '/admin/recommendations',
  '/admin/newsletters',
  '/admin/tiers',
  '/admin/tiers/sync',
  '/admin/offers',
  '/admin/staff',
  '/admin/webhooks',
  '/admin/tokens',
];
const READER_ROUTES = [
  '/',
  '/posts',
  '/posts/why-we-left-the-algorithm',
  '/posts/roast-profiles-we-never-published',
  '/join',
  '/links',
  '/signin',
];

let detailRoutes: string[] = [];
let memberToken = '';

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 120 });
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'an owner password', role: 'owner' });
  // Rows for the lists the demo does not fill: a recommendation, a token, a webhook with a failed delivery.
  await t.db
    .insertInto('recommendations')
    .values({
      url: 'https://letters.example/a-rather-long-address/that-should-wrap',
      name: 'Letters from the hills',
      reason: 'Slow, careful writing.',
    })
    .execute();
  await createApiToken(t.db, owner.id, 'Zapier import, the nightly one');
  const webhook = await t.db
    .insertInto('webhooks')
    .values({ url: 'https://hooks.example/hearth/a-long-path/that-should-wrap', events: ['member.created'], secret: 'whsec_test' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await t.db
    .insertInto('webhook_deliveries')
    .values({
      webhook_id: webhook.id,
      message_id: 'msg_screens_1',
      event_type: 'member.created',
      payload: JSON.stringify({ id: 1 }),
      status: 'failed',
      attempts: 3,
      last_status_code: 500,
      last_response: 'Internal Server Error: a response body long enough to need wrapping on a phone screen, '.repeat(3),
      last_error: 'HTTP 500',
    })
    .execute();
  const first = async (table: 'posts' | 'members' | 'sends' | 'outbox' | 'polls' | 'automations') =>
    (await sql<{ id: string }>`select id from ${sql.table(table)} order by id limit 1`.execute(t.db)).rows[0]?.id;
  const post = await first('posts');
  const member = await first('members');
  const send = await first('sends');
  const outbox = await first('outbox');
  const poll = await first('polls');
  const automation = await first('automations');
  detailRoutes = [
    post && `/admin/posts/${post}`,
    post && `/admin/stats/posts/${post}`,
    post && `/admin/sends/new?post=${post}`,
    member && `/admin/members/${member}`,
    send && `/admin/sends/${send}`,
    send && `/admin/stats/sends/${send}`,
    outbox && `/admin/outbox/${outbox}`,
    poll && `/admin/polls/${poll}`,
    automation && `/admin/automations/${automation}`,
    `/admin/webhooks/${webhook.id}`,
  ].filter((r): r is string => typeof r === 'string');
  // A comment's own page (reply and report) is a reader page too.
  const open = await t.db.selectFrom('posts').select('id').where('slug', '=', 'why-we-left-the-algorithm').executeTakeFirstOrThrow();
  const comment = await t.db
    .insertInto('comments')
    .values({ post_id: open.id, member_id: member!, body: 'A comment with its own page.', announced: true })
    .returning('id')
    .executeTakeFirstOrThrow();
  READER_ROUTES.push(`/posts/why-we-left-the-algorithm/comments/${comment.id}`);
  // A paying reader of our own: the demo's members are drawn at random (7 % paid, so 120 of them
  // hold none about once in 6,000 seeds).
  const paid = await t.db
    .insertInto('members')
    .values({
      email: 'paying-reader@example.com',
      name: 'Paula Payer',
      status: 'active',
      tier_id: sql<string>`(select id from tiers where paid order by id limit 1)` as unknown as string,
      tier_source: 'comp',
      referral_code: 'paying-reader',
      confirmed_at: new Date(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  memberToken = (await createMemberSession(t.db, paid.id)).token;
  server = await startServer({ databaseUrl: t.url });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await t?.drop();
});

interface Finding {
  route: string;
  width: number;
  problem: string;
}

/** The page's serious and critical axe violations, one line each. */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const results = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(o: unknown): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }> }> };
      }
    ).axe;
    return axe.run({ resultTypes: ['violations'] });
  });
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

async function visit(page: Page, route: string, width: number, withAxe: boolean): Promise<Finding[]> {
  const res = await page.goto(server.url + route);
  const findings: Finding[] = [];
  if (!res || res.status() >= 400) findings.push({ route, width, problem: `status ${res?.status()}` });
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  if (scroll > inner) {
    const culprit = await page.evaluate((limit) => {
      const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > limit + 1);
      const last = wide.filter((el) => !wide.some((other) => other !== el && el.contains(other)));
      return last
        .slice(0, 3)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}`)
        .join(' ');
    }, inner);
    findings.push({ route, width, problem: `scrollWidth ${scroll} > ${inner} (${culprit})` });
  }
  if (withAxe) for (const v of await axeViolations(page)) findings.push({ route, width, problem: v });
  return findings;
}

async function contextAt(width: number, colorScheme: 'light' | 'dark' = 'light'): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width, height: width < 600 ? 780 : 900 }, colorScheme });
}

describe('the admin on any screen', () => {
  it('has no horizontal overflow at 360 px and 1280 px and no serious axe violation on any admin page or /account', async () => {
    const findings: Finding[] = [];
    for (const width of [360, 1280]) {
      const context = await contextAt(width);
      const page = await context.newPage();
      await signInStaff(page, server.url, 'owner@example.com', 'an owner password');
      for (const route of [...ADMIN_ROUTES, ...detailRoutes]) {
        // axe once per page (its rules barely depend on the width), at the phone width.
        findings.push(...(await visit(page, route, width, width === 360)));
      }
      if (width === 360) {
        await page.goto(server.url + '/admin/stats');
        await page.screenshot({ path: join(SHOTS, 'admin-phone-stats.png'), fullPage: true });
        await page.goto(server.url + '/admin');
        await page.getByText('Menu').click();
        await page.screenshot({ path: join(SHOTS, 'admin-phone-menu.png') });
      }
      await context.addCookies([{ name: 'hearth_member', value: memberToken, url: server.url }]);
      findings.push(...(await visit(page, '/account', width, width === 360)));
      await context.close();
    }
    expect(detailRoutes.length).toBeGreaterThanOrEqual(3);
    expect(findings.map((f) => `${f.width}px ${f.route}: ${f.problem}`)).toEqual([]);
    // Some 50 pages, twice, with axe on the phone pass: ~30 s on a quiet machine.
  }, 180_000);

  it('folds the navigation into a menu on a phone and shows it whole on a desktop', async () => {
    const phone = await (await contextAt(360)).newPage();
    await signInStaff(phone, server.url, 'owner@example.com', 'an owner password');
    await expect(phone.getByRole('link', { name: 'Members', exact: true }).isVisible()).resolves.toBe(false);
    await phone.getByText('Menu').click();
    await phone.getByRole('link', { name: 'Members', exact: true }).click();
    await phone.waitForURL(server.url + '/admin/members');
    await phone.context().close();

    const desktop = await (await contextAt(1280)).newPage();
    await signInStaff(desktop, server.url, 'owner@example.com', 'an owner password');
    for (const section of ['Write', 'Audience', 'Send', 'Community', 'Stats', 'Settings']) {
      await expect(desktop.locator('.nav-heading', { hasText: section }).isVisible()).resolves.toBe(true);
    }
    await desktop.getByRole('link', { name: 'Members', exact: true }).click();
    await desktop.waitForURL(server.url + '/admin/members');
    await desktop.context().close();
  });

  it('reports the reader pages (axe, overflow) and shows the dark post page and dashboard', async () => {
    const context = await contextAt(360, 'dark');
    const page = await context.newPage();
    const findings: Finding[] = [];
    for (const route of READER_ROUTES) findings.push(...(await visit(page, route, 360, true)));
    // Reader markup belongs to another issue: this test prints what it finds instead of failing on it.
    if (findings.length) console.log('reader pages:\n' + findings.map((f) => `  ${f.route}: ${f.problem}`).join('\n'));
    await page.goto(server.url + '/posts/why-we-left-the-algorithm');
    const bg = await page.evaluate(backgroundOf);
    await page.screenshot({ path: join(SHOTS, 'post-dark.png'), fullPage: true });
    // A favicon from our own origin (the default: the site's initial on its accent colour).
    const icon = await page.locator('link[rel=icon]').getAttribute('href');
    const res = await page.request.get(new URL(icon!, server.url).href);
    expect(res.headers()['content-type']).toBe('image/svg+xml');
    expect(await res.text()).toContain('>F</text>');
    expect(luminance(bg)).toBeLessThan(0.2);
    await context.close();

    const admin = await (await contextAt(1280, 'dark')).newPage();
    await signInStaff(admin, server.url, 'owner@example.com', 'an owner password');
    const adminBg = await admin.evaluate(backgroundOf);
    expect(luminance(adminBg)).toBeLessThan(0.2);
    await admin.screenshot({ path: join(SHOTS, 'dashboard-dark.png'), fullPage: true });
    await admin.context().close();
  });
});

/** The colour the page is painted on: the body's background, else the root's, else the canvas's white. */
function backgroundOf(): string {
  for (const el of [document.body, document.documentElement]) {
    const c = getComputedStyle(el).backgroundColor;
    if (c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') return c;
  }
  return 'rgb(255, 255, 255)';
}

/** Relative luminance (0 black … 1 white) of a computed `rgb(r, g, b)`. */
function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? ['255', '255', '255']).map(Number) as [number, number, number];
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}
