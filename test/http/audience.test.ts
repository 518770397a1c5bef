import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { saveAudienceSettings } from '../../src/domain/landing/settings.ts';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { confirmToken, preferencesToken } from '../../src/domain/members/links.ts';
import { suppress } from '../../src/domain/members/suppression.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { pressEmailLink } from '../helpers/links.ts';
import { waitFor } from '../helpers/wait.ts';

/** Subscribe → confirm → welcome, leaving, own data: the reader side over HTTP, with the real worker. */
let t: TestDatabase;
let server: RunningServer;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute(); // every test starts with fresh per-IP limits
});

const form = (fields: Record<string, string | string[]>) => {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of [v].flat()) body.append(k, x);
  return body;
};

async function post(path: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  return fetch(server.url + path, {
    method: 'POST',
    body: form(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    redirect: 'manual',
  });
}

/** Waits for the worker to deliver an email to the outbox. */
async function outboxFor(email: string, subjectPart: string, count = 1) {
  return waitFor(
    () =>
      t.db
        .selectFrom('outbox')
        .selectAll()
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .where('subject', 'like', `%${subjectPart}%`)
        .orderBy('id')
        .execute(),
    { until: (rows) => rows.length >= count, what: `${count} email(s) "${subjectPart}"` },
  );
}

/** Waits until the worker has no email job left to run (so "nothing was sent" can be asserted). */
async function queueDrained() {
  await waitFor(
    async () =>
      Number(
        (await sql<{ n: string }>`select count(*) as n from graphile_worker.jobs where task_identifier = 'send_email'`.execute(t.db))
          .rows[0]!.n,
      ),
    { until: (n) => n === 0, what: 'no email job left' },
  );
}

const member = (email: string) => t.db.selectFrom('members').selectAll().where('email', '=', email).executeTakeFirst();
const linkIn = (text: string, path: string) => new RegExp(`(http://[^\\s]+${path}\\?token=[^\\s]+)`).exec(text)?.[1];

describe('landing pages', () => {
  it('serves /join and a page per platform, and 404 for an unknown platform', async () => {
    const page = await (
      await fetch(server.url + '/join/instagram?utm_campaign=bio-link', { headers: { referer: 'https://l.instagram.com/?u=x' } })
    ).text();
    expect(page).toContain('Found us on Instagram?');
    expect(page).toContain('name="platform" value="instagram"');
    expect(page).toContain('name="utm_campaign" value="bio-link"');
    expect(page).toContain('name="referrer" value="https://l.instagram.com/?u=x"');
    expect(page).toContain('The Weekly Brew');
    expect((await fetch(server.url + '/join')).status).toBe(200);
    expect((await fetch(server.url + '/join/myspace')).status).toBe(404);
  });

  it('uses the copy staff wrote, and lists the link-in-bio links', async () => {
    await saveAudienceSettings(t.db, {
      landing: { tiktok: { headline: 'Hi TikTok friends', intro: 'Longer than 60 seconds.' } },
      links: [{ label: 'Shop our beans', url: 'https://shop.example.com' }],
      embedOrigins: ['https://blog.example.com'],
    });
    expect(await (await fetch(server.url + '/join/tiktok')).text()).toContain('Hi TikTok friends');
    const links = await (await fetch(server.url + '/links')).text();
    expect(links).toContain('Shop our beans');
    expect(links).toContain('href="https://shop.example.com"');
  });

  it('lets only allowed origins frame the embeddable form', async () => {
    const res = await fetch(server.url + '/embed/subscribe');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'self' https://blog.example.com");
    expect(res.headers.get('x-frame-options')).toBeNull();
    expect((await fetch(server.url + '/join')).headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('subscribe, confirm, welcome', () => {
  it('subscribes from the Instagram landing page and records the first touch', async () => {
    const res = await post('/subscribe', {
      email: 'Ana@Example.com',
      name: 'Ana',
      newsletter: ['weekly-brew', 'roastery-dispatch'],
      platform: 'instagram',
      referrer: 'https://l.instagram.com/?u=x',
      utm_campaign: 'bio-link',
      landing_page: '/join/instagram',
      website: '',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/subscribe/check-inbox');
    const m = await member('ana@example.com');
    expect(m).toMatchObject({
      status: 'pending',
      name: 'Ana',
      source_platform: 'instagram',
      referrer: 'l.instagram.com',
      utm_campaign: 'bio-link',
      landing_page: '/join/instagram',
      confirmed_at: null,
    });
  });

  it('emails a confirmation link valid 7 days; clicking it confirms and sends a welcome with one-click unsubscribe headers', async () => {
    const [confirmation] = await outboxFor('ana@example.com', 'Confirm your subscription');
    expect(confirmation).toBeDefined();
    expect(confirmation!.text).toContain('The Weekly Brew, Roastery Dispatch');
    expect(confirmation!.text).toContain('7 days');
    const link = linkIn(confirmation!.text!, '/confirm');
    expect(link).toBeDefined();
    // Opening the link (what a corporate mail scanner does) shows one button and changes nothing.
    const shown = await fetch(link!.replace(/^http:\/\/[^/]+/, server.url));
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain('data-testid="confirm-button"');
    expect((await member('ana@example.com'))?.status).toBe('pending');
    // A POST from another site is refused: the button is on our page.
    const crossSite = await fetch(server.url + '/confirm', {
      method: 'POST',
      body: new URLSearchParams({ token: new URL(link!).searchParams.get('token')! }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);
    expect((await member('ana@example.com'))?.status).toBe('pending');
    const page = await pressEmailLink(link!.replace(/^http:\/\/[^/]+/, server.url));
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/data-testid="confirmed">You(&#39;|')re subscribed/);
    const m = await member('ana@example.com');
    expect(m?.status).toBe('active');
    expect(m?.confirmed_at).toBeInstanceOf(Date);
    const subs = await t.db.selectFrom('member_newsletters').select('newsletter_id').where('member_id', '=', m!.id).execute();
    expect(subs).toHaveLength(2);

    const [welcome] = await outboxFor('ana@example.com', 'Welcome to');
    expect(welcome).toBeDefined();
    const headers = welcome!.headers as Record<string, string>;
    expect(headers['List-Unsubscribe']).toMatch(/^<http:\/\/.+\/unsubscribe\?token=.+>$/);
    expect(headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');

    // A second click changes nothing and sends no second welcome.
    expect((await pressEmailLink(link!.replace(/^http:\/\/[^/]+/, server.url))).status).toBe(200);
    await queueDrained();
    expect(await outboxFor('ana@example.com', 'Welcome to')).toHaveLength(1);
  });

  it('answers the same for a known address, by form and by JSON, and never reveals it', async () => {
    const known = await fetch(server.url + '/subscribe', {
      method: 'POST',
      body: JSON.stringify({ email: 'ana@example.com' }),
      headers: { 'content-type': 'application/json' },
    });
    const unknown = await fetch(server.url + '/subscribe', {
      method: 'POST',
      body: JSON.stringify({ email: 'ben@example.com', newsletter: 'weekly-brew' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(await known.json()).toEqual(await unknown.json());
    expect((await member('ana@example.com'))?.status).toBe('active');
  });

  it('refuses a bad address, an unknown newsletter and an empty body with a clear 400', async () => {
    const bad = await post('/subscribe', { email: 'not-an-email' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Please check your email address');
    const json = await fetch(server.url + '/subscribe', {
      method: 'POST',
      body: JSON.stringify({ email: 'c@example.com', newsletter: 'nope' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(400);
    expect(await json.json()).toEqual({ error: { code: 'unknown_newsletter', message: 'There is no newsletter called "nope".' } });
    expect(
      (await fetch(server.url + '/subscribe', { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } }))
        .status,
    ).toBe(400);
    expect((await fetch(server.url + '/subscribe', { method: 'POST' })).status).toBe(400);
  });

  it('quietly drops what a bot writes into the honeypot', async () => {
    const res = await post('/subscribe', { email: 'bot@example.com', website: 'http://spam.example' });
    expect(res.status).toBe(303);
    expect(await member('bot@example.com')).toBeUndefined();
  });

  it('accepts the plain HTML snippet from another site (cross-origin form post)', async () => {
    const res = await post(
      '/subscribe',
      { email: 'snippet@example.com' },
      { origin: 'https://blog.example.com', referer: 'https://blog.example.com/about' },
    );
    expect(res.status).toBe(303);
    expect(await member('snippet@example.com')).toMatchObject({ source_platform: 'other', referrer: 'blog.example.com' });
  });
});

describe('abuse limits', () => {
  it('throttles many addresses from one network with a clear 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await post('/subscribe', { email: `bomb${i}@example.com` })).status);
    expect(statuses.slice(0, 10).every((s) => s === 303)).toBe(true);
    expect(statuses[10]).toBe(429);
    const res = await post('/subscribe', { email: 'bomb99@example.com' });
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await res.text()).toContain('Too many sign-ups from your network');
    expect(await member('bomb11@example.com')).toBeUndefined();
  });

  it('sends at most three confirmation emails a day to one address', async () => {
    for (let i = 0; i < 5; i++) expect((await post('/subscribe', { email: 'again@example.com' })).status).toBe(303);
    await queueDrained();
    expect(await outboxFor('again@example.com', 'Confirm', 0)).toHaveLength(3);
  });

  it('never mails a suppressed address, even a new member with it', async () => {
    await suppress(t.db, 'bounced@example.com', 'bounced');
    expect((await post('/subscribe', { email: 'Bounced@example.com' })).status).toBe(303);
    expect((await member('bounced@example.com'))?.status).toBe('bounced');
    await queueDrained();
    expect(await outboxFor('bounced@example.com', 'Confirm', 0)).toHaveLength(0);
  });
});

describe('confirmation links', () => {
  it('refuses a tampered or expired link with a clear page', async () => {
    const m = await member('ben@example.com');
    const good = confirmToken(TEST_SECRET, m!.id, []);
    const tampered = await fetch(`${server.url}/confirm?token=${encodeURIComponent(good.slice(0, -2) + 'xx')}`);
    expect(tampered.status).toBe(400);
    expect(await tampered.text()).toContain('not valid');
    const expired = confirmToken(TEST_SECRET, m!.id, [], Date.now() - 8 * 86_400_000);
    const res = await fetch(`${server.url}/confirm?token=${encodeURIComponent(expired)}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('expired');
    expect((await fetch(`${server.url}/confirm`)).status).toBe(400);
    expect((await member('ben@example.com'))?.status).toBe('pending');
  });
});

describe('leaving and own data', () => {
  it('unsubscribes at once on an RFC 8058 one-click POST, with no page and no origin', async () => {
    const m = await member('ana@example.com');
    const token = preferencesToken(TEST_SECRET, m!.id);
    const res = await fetch(`${server.url}/unsubscribe?token=${encodeURIComponent(token)}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    expect((await member('ana@example.com'))?.status).toBe('unsubscribed');
    const again = await fetch(`${server.url}/unsubscribe?token=${encodeURIComponent(token)}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(again.status).toBe(200);
    const events = await t.db
      .selectFrom('events')
      .select('type')
      .where('member_id', '=', m!.id)
      .where('type', '=', 'unsubscribed')
      .execute();
    expect(events).toHaveLength(1);
  });

  it('restarts confirmation when an unsubscribed address subscribes again', async () => {
    expect((await post('/subscribe', { email: 'ana@example.com', newsletter: 'weekly-brew' })).status).toBe(303);
    expect((await member('ana@example.com'))?.status).toBe('pending');
    // Three in all: the first subscribe, the known-address subscribe (adding newsletters), and this one.
    expect(await outboxFor('ana@example.com', 'Confirm your subscription', 3)).toHaveLength(3);
  });

  it('shows the preference page, saves choices, and refuses a bad token', async () => {
    const m = await member('ana@example.com');
    await t.db.updateTable('members').set({ status: 'active' }).where('id', '=', m!.id).execute();
    const token = encodeURIComponent(preferencesToken(TEST_SECRET, m!.id));
    const page = await (await fetch(`${server.url}/unsubscribe?token=${token}`)).text();
    expect(page).toContain('ana@example.com');
    expect(page).toContain('Roastery Dispatch');
    const saved = await post(`/unsubscribe?token=${token}`, { action: 'update', newsletter: 'roastery-dispatch' });
    expect(saved.status).toBe(303);
    const subs = await t.db
      .selectFrom('member_newsletters as mn')
      .innerJoin('newsletters as n', 'n.id', 'mn.newsletter_id')
      .select('n.slug')
      .where('mn.member_id', '=', m!.id)
      .execute();
    expect(subs.map((s) => s.slug)).toEqual(['roastery-dispatch']);
    // Where the save sends the reader: the page again, saying so in the site's message style.
    const after = await (await fetch(new URL(saved.headers.get('location')!, server.url))).text();
    expect(after).toMatch(/<p class="message" role="status">\s*Your choices are saved\./);
    expect(after).not.toContain('role="alert"');
    const refused = await fetch(`${server.url}/unsubscribe?token=abc.def`);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/<p class="error" role="alert">\s*\S/);
  });

  it('gives the member their data as JSON, then erases them but keeps anonymous events', async () => {
    const m = await member('ana@example.com');
    const token = encodeURIComponent(preferencesToken(TEST_SECRET, m!.id));
    const data = await fetch(`${server.url}/unsubscribe/data?token=${token}`);
    expect(data.headers.get('content-disposition')).toContain('attachment');
    const body = (await data.json()) as { member: { email: string; source: { platform: string } }; events: Array<{ type: string }> };
    expect(body.member).toMatchObject({ email: 'ana@example.com', source: { platform: 'instagram' } });
    expect(body.events.map((e) => e.type)).toEqual(expect.arrayContaining(['subscribed', 'confirmed', 'unsubscribed']));

    const eventsBefore = await t.db.selectFrom('events').select('id').where('member_id', '=', m!.id).execute();
    const refused = await post(`/unsubscribe/delete?token=${token}`, {}, { origin: server.url });
    expect(refused.status).toBe(400);
    const crossSite = await post(`/unsubscribe/delete?token=${token}`, { confirm: 'yes' }, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    const deleted = await post(`/unsubscribe/delete?token=${token}`, { confirm: 'yes' }, { origin: server.url });
    expect(deleted.status).toBe(200);
    expect(await member('ana@example.com')).toBeUndefined();
    const kept = await t.db
      .selectFrom('events')
      .select(['id', 'member_id'])
      .where(
        'id',
        'in',
        eventsBefore.map((e) => e.id),
      )
      .execute();
    expect(kept).toHaveLength(eventsBefore.length);
    expect(kept.every((e) => e.member_id === null)).toBe(true);
    expect((await fetch(`${server.url}/unsubscribe?token=${token}`)).status).toBe(404);
  });
});
