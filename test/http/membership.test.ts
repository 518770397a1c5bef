import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createPost } from '../../src/domain/content/editor.ts';
import { suppress } from '../../src/domain/members/suppression.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { pressEmailLink } from '../helpers/links.ts';
import { waitFor } from '../helpers/wait.ts';

/** Member sign-in by magic link or code, sessions, and posts read as free, paid and other-tier members. */
let t: TestDatabase;
let server: RunningServer;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  await t.db.insertInto('tiers').values({ slug: 'gold', name: 'Gold', paid: true, monthly_amount: 900, currency: 'usd' }).execute();
  await createPost(
    t.db,
    {
      title: 'Gold only',
      slug: 'gold-only',
      markdown: 'Gold teaser.\n\n<!--more-->\n\nGold secret.',
      visibility: 'tiers',
      tiers: ['gold'],
      status: 'published',
    },
    null,
  );
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
});

const form = (path: string, fields: Record<string, string>, cookie = '') =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, ...(cookie ? { cookie } : {}) },
    redirect: 'manual',
  });

async function signInEmail(email: string, count = 1) {
  const rows = await waitFor(
    () =>
      t.db
        .selectFrom('outbox')
        .select(['text'])
        .where(sql<boolean>`${email} = any(to_addresses)`)
        .where('subject', 'like', 'Your sign-in link%')
        .orderBy('id')
        .execute(),
    {
      until: (r) => r.length >= count,
      what: `sign-in email ${count} for ${email}`,
    },
  );
  return rows[count - 1]!.text!;
}
const linkOf = (text: string) => /(http:\/\/\S+\/signin\/verify\?token=\S+)/.exec(text)![1]!.replace(/^http:\/\/[^/]+/, server.url);
const codeOf = (text: string) => /code: (\d{6})/.exec(text)![1]!;
const cookieOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith('hearth_member='))!
    .split(';')[0]!;

describe('asking for a sign-in link', () => {
  it('answers the same for a known, an unknown and a suppressed address', async () => {
    await t.db
      .insertInto('members')
      .values({
        email: 'known@example.com',
        status: 'active',
        tier_id: sql<string>`(select id from tiers where slug='free')` as unknown as string,
        referral_code: 'knowncode01',
      })
      .execute();
    await suppress(t.db, 'bounced@example.com', 'bounced');
    const bodies: string[] = [];
    for (const email of ['known@example.com', 'stranger@example.com', 'bounced@example.com']) {
      const res = await form('/signin', { email });
      expect(res.status).toBe(200);
      bodies.push((await res.text()).replaceAll(email, 'EMAIL'));
    }
    expect(bodies[1]).toBe(bodies[0]);
    expect(bodies[2]).toBe(bodies[0]);
    await signInEmail('known@example.com');
    await signInEmail('stranger@example.com');
    expect((await t.db.selectFrom('members').select('status').where('email', '=', 'stranger@example.com').executeTakeFirst())?.status).toBe(
      'pending',
    );
    expect(
      await t.db
        .selectFrom('outbox')
        .select('id')
        .where(sql<boolean>`'bounced@example.com' = any(to_addresses)`)
        .execute(),
    ).toHaveLength(0);
    expect((await form('/signin', { email: 'nope' })).status).toBe(400);
  });

  it('is rate-limited per address', async () => {
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await form('/signin', { email: 'often@example.com' })).status);
    expect(statuses.slice(0, 5).every((s) => s === 200)).toBe(true);
    expect(statuses[5]).toBe(429);
  });
});

describe('the link and the code', () => {
  it('signs in by link, confirms a new member, returns to the page asked for', async () => {
    await form('/signin?return=%2Fposts%2Fgold-only', { email: 'newbie@example.com' });
    const link = linkOf(await signInEmail('newbie@example.com'));
    // Opening the link (what a mail scanner does) shows a "Sign in" button and confirms no one.
    const shown = await fetch(link, { redirect: 'manual' });
    expect(shown.status).toBe(200);
    expect(shown.headers.getSetCookie()).toEqual([]);
    expect(await shown.text()).toMatch(/<button[^>]*>Sign in<\/button>/);
    expect((await t.db.selectFrom('members').select('status').where('email', '=', 'newbie@example.com').executeTakeFirst())?.status).toBe(
      'pending',
    );
    const res = await pressEmailLink(link);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/posts/gold-only');
    expect(res.headers.getSetCookie().join(';')).toMatch(/hearth_member=.*HttpOnly.*SameSite=Lax/i);
    const account = await (await fetch(server.url + '/account', { headers: { cookie: cookieOf(res) } })).text();
    expect(account).toContain('data-testid="account-email">newbie@example.com');
    expect((await t.db.selectFrom('members').select('status').where('email', '=', 'newbie@example.com').executeTakeFirst())?.status).toBe(
      'active',
    );
  });

  it('survives a mail scanner (a few uses within 10 minutes), then dies', async () => {
    await form('/signin', { email: 'scanned@example.com' });
    const link = linkOf(await signInEmail('scanned@example.com'));
    // Opening the link (a scanner) uses nothing: the page only shows a button.
    for (let i = 0; i < 5; i++) expect((await fetch(link, { redirect: 'manual' })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await pressEmailLink(link)).status).toBe(303);
    expect((await pressEmailLink(link)).status).toBe(400);

    await form('/signin', { email: 'scanned@example.com' });
    const second = linkOf(await signInEmail('scanned@example.com', 2));
    expect((await pressEmailLink(second)).status).toBe(303);
    await t.db
      .updateTable('member_sign_ins')
      .set({ first_used_at: sql<Date>`now() - interval '11 minutes'` as unknown as Date })
      .where('first_used_at', 'is not', null)
      .execute();
    expect((await fetch(second, { redirect: 'manual' })).status).toBe(400);
    expect((await pressEmailLink(second)).status).toBe(400);
  });

  it('refuses an expired or tampered link with a clear page', async () => {
    await form('/signin', { email: 'late@example.com' });
    const link = linkOf(await signInEmail('late@example.com'));
    const tampered = link.slice(0, -3) + (link.endsWith('aaa') ? 'bbb' : 'aaa');
    const bad = await fetch(tampered, { redirect: 'manual' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('not valid any more');
    await t.db
      .updateTable('member_sign_ins')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` as unknown as Date })
      .execute();
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(400);
    expect((await pressEmailLink(link)).status).toBe(400);
  });

  it('signs in by code, and five wrong codes kill it', async () => {
    await form('/signin', { email: 'coder@example.com' });
    const code = codeOf(await signInEmail('coder@example.com'));
    const ok = await form('/signin/code', { email: 'coder@example.com', code });
    expect(ok.status).toBe(303);
    await form('/signin', { email: 'coder@example.com' });
    const next = codeOf(await signInEmail('coder@example.com', 2));
    const wrong = next === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) expect((await form('/signin/code', { email: 'coder@example.com', code: wrong })).status).toBe(400);
    expect((await form('/signin/code', { email: 'coder@example.com', code: next })).status).toBe(400);
  });
});

describe('sessions', () => {
  it('signs out one browser or every one, and an expired session is over', async () => {
    const cookies: string[] = [];
    for (let i = 0; i < 2; i++) {
      await form('/signin', { email: 'twodevices@example.com' });
      cookies.push(cookieOf(await pressEmailLink(linkOf(await signInEmail('twodevices@example.com', i + 1)))));
    }
    const signedIn = async (c: string) =>
      (await fetch(server.url + '/account', { headers: { cookie: c }, redirect: 'manual' })).status === 200;
    expect(await signedIn(cookies[0]!)).toBe(true);
    expect(await signedIn(cookies[1]!)).toBe(true);
    expect((await form('/signout', { everywhere: '1' }, cookies[0])).status).toBe(303);
    expect(await signedIn(cookies[0]!)).toBe(false);
    expect(await signedIn(cookies[1]!)).toBe(false);

    await form('/signin', { email: 'twodevices@example.com' });
    const c = cookieOf(await pressEmailLink(linkOf(await signInEmail('twodevices@example.com', 3))));
    await t.db
      .updateTable('member_sessions')
      .set({ expires_at: sql<Date>`now() - interval '1 second'` as unknown as Date })
      .execute();
    expect(await signedIn(c)).toBe(false);
    expect((await fetch(server.url + '/account', { redirect: 'manual' })).headers.get('location')).toBe('/signin?return=/account');
  });
});

describe('posts for free, paid and other-tier members', () => {
  async function memberCookie(email: string, tier: string) {
    await form('/signin', { email });
    const c = cookieOf(await pressEmailLink(linkOf(await signInEmail(email))));
    await t.db
      .updateTable('members')
      .set({ tier_id: sql<string>`(select id from tiers where slug = ${tier})` as unknown as string })
      .where('email', '=', email)
      .execute();
    return c;
  }
  const page = async (slug: string, cookie?: string) => {
    const res = await fetch(`${server.url}/posts/${slug}`, { headers: cookie ? { cookie } : {} });
    return { body: await res.text(), cache: res.headers.get('cache-control') };
  };

  it('gives each reader exactly what their tier allows, and keeps what they see out of shared caches', async () => {
    const free = await memberCookie('free@example.com', 'free');
    const supporter = await memberCookie('supporter@example.com', 'supporter');
    const gold = await memberCookie('gold@example.com', 'gold');
    const cases: Array<[string, string, Record<string, boolean>]> = [
      ['dialing-in-espresso-at-home', 'Start with 18 g in', { anonymous: false, free: true, supporter: true, gold: true }],
      ['roast-profiles-we-never-published', 'Charge at 205', { anonymous: false, free: false, supporter: true, gold: true }],
      ['gold-only', 'Gold secret.', { anonymous: false, free: false, supporter: false, gold: true }],
    ];
    const cookies: Record<string, string | undefined> = { anonymous: undefined, free, supporter, gold };
    for (const [slug, secret, entitled] of cases) {
      for (const [who, cookie] of Object.entries(cookies)) {
        const { body, cache } = await page(slug, cookie);
        expect(body.includes(secret), `${who} on ${slug}`).toBe(entitled[who]);
        if (entitled[who] && who !== 'anonymous') expect(cache).toBe('private, no-store');
        // Without Stripe keys, no paid option is offered: a member is told so instead of being sent to a checkout.
        if (!entitled[who])
          expect(body).toContain(who === 'anonymous' ? 'Already a member? Sign in' : 'Paid memberships are not available yet.');
      }
    }
  });
});

/** The address-change link mailed to an address (waits for the worker). */
async function changeLink(address: string): Promise<string> {
  const link = await waitFor(
    async () => {
      const row = await t.db
        .selectFrom('outbox')
        .select('text')
        .where(sql<boolean>`${address} = any(to_addresses)`)
        .where('subject', 'like', 'Confirm your new address%')
        .executeTakeFirst();
      return /(http:\/\/\S+\/account\/email\?token=\S+)/.exec(row?.text ?? '')?.[1];
    },
    { what: `an address-change email to ${address}` },
  );
  return link.replace(/^http:\/\/[^/]+/, server.url);
}

describe('the account', () => {
  it('changes the name and newsletters at once, and the address only when the new address confirms', async () => {
    await form('/signin', { email: 'mover@example.com' });
    const cookie = cookieOf(await pressEmailLink(linkOf(await signInEmail('mover@example.com'))));
    expect((await form('/account', { action: 'name', name: 'Mo Ver' }, cookie)).status).toBe(200);
    expect((await t.db.selectFrom('members').select('name').where('email', '=', 'mover@example.com').executeTakeFirst())?.name).toBe(
      'Mo Ver',
    );
    expect((await form('/account', { action: 'newsletters', newsletter: 'roastery-dispatch' }, cookie)).status).toBe(200);
    const subs = await t.db
      .selectFrom('member_newsletters as mn')
      .innerJoin('newsletters as n', 'n.id', 'mn.newsletter_id')
      .innerJoin('members as m', 'm.id', 'mn.member_id')
      .select('n.slug')
      .where('m.email', '=', 'mover@example.com')
      .execute();
    expect(subs.map((x) => x.slug)).toEqual(['roastery-dispatch']);

    const asked = await form('/account', { action: 'email', email: 'Moved@Example.com' }, cookie);
    expect(await asked.text()).toContain('We sent a confirmation link to Moved@Example.com');
    expect((await t.db.selectFrom('members').select('email').where('name', '=', 'Mo Ver').executeTakeFirst())?.email).toBe(
      'mover@example.com',
    );
    const link = await changeLink('moved@example.com');
    const tampered = await fetch(link.slice(0, -2) + 'xx', { redirect: 'manual' });
    expect(tampered.status).toBe(400);
    // Opening the link changes nothing; the button on its page does.
    const shown = await fetch(link, { redirect: 'manual' });
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain('moved@example.com');
    expect((await t.db.selectFrom('members').select('email').where('name', '=', 'Mo Ver').executeTakeFirst())?.email).toBe(
      'mover@example.com',
    );
    const done = await pressEmailLink(link);
    expect(done.headers.get('location')).toBe('/account?email_changed=1');
    expect((await t.db.selectFrom('members').select('email').where('name', '=', 'Mo Ver').executeTakeFirst())?.email).toBe(
      'moved@example.com',
    );

    // An address another member already uses cannot be taken over.
    await form('/account', { action: 'email', email: 'known@example.com' }, cookie);
    expect((await pressEmailLink(await changeLink('known@example.com'))).status).toBe(409);
    for (let i = 0; i < 5; i++) await form('/account', { action: 'email', email: `spam${i}@example.com` }, cookie);
    expect((await form('/account', { action: 'email', email: 'spam9@example.com' }, cookie)).status).toBe(429);
    expect((await form('/account', { action: 'name', name: 'x' })).status).toBe(303); // not signed in: to sign-in
  });
});

describe('referral links', () => {
  it('credit the referrer only once the friend confirms', async () => {
    const cookie = await (async () => {
      await form('/signin', { email: 'referrer@example.com' });
      return cookieOf(await pressEmailLink(linkOf(await signInEmail('referrer@example.com'))));
    })();
    const account = await (await fetch(server.url + '/account', { headers: { cookie } })).text();
    const link = /data-testid="referral-link">([^<]+)</.exec(account)![1]!;
    const code = link.split('/r/')[1]!;
    expect(account).toContain('0 friends have joined');
    expect(account).toContain('href="https://bsky.app/intent/compose?text=');

    const hop = await fetch(`${server.url}/r/${code}`, { redirect: 'manual' });
    expect(hop.headers.get('location')).toBe(`/join?ref=${code}&utm_source=referral&utm_medium=member`);
    expect((await fetch(`${server.url}/r/nosuchcode1`, { redirect: 'manual' })).headers.get('location')).toBe('/join');
    const join = await (await fetch(server.url + hop.headers.get('location')!)).text();
    expect(join).toContain(`name="ref" value="${code}"`);

    expect((await form('/subscribe', { email: 'friend@example.com', ref: code, utm_source: 'referral' })).status).toBe(303);
    expect(
      await t.db.selectFrom('members').select(['source_platform', 'ref']).where('email', '=', 'friend@example.com').executeTakeFirst(),
    ).toEqual({ source_platform: 'referral', ref: code });
    expect(await (await fetch(server.url + '/account', { headers: { cookie } })).text()).toContain(
      '0 friends have joined through your link (1 not confirmed yet)',
    );

    const confirm = await waitFor(
      async () => {
        const row = await t.db
          .selectFrom('outbox')
          .select('text')
          .where(sql<boolean>`'friend@example.com' = any(to_addresses)`)
          .executeTakeFirst();
        return /(http:\/\/\S+\/confirm\?token=\S+)/.exec(row?.text ?? '')?.[1];
      },
      { what: 'the confirmation email to friend@example.com' },
    );
    // A scanner opening the link neither confirms the friend nor counts the referral.
    expect((await fetch(confirm.replace(/^http:\/\/[^/]+/, server.url))).status).toBe(200);
    expect((await t.db.selectFrom('members').select('status').where('email', '=', 'friend@example.com').executeTakeFirst())?.status).toBe(
      'pending',
    );
    expect(await (await fetch(server.url + '/account', { headers: { cookie } })).text()).toContain('(1 not confirmed yet)');
    expect((await pressEmailLink(confirm.replace(/^http:\/\/[^/]+/, server.url))).status).toBe(200);
    expect(await (await fetch(server.url + '/account', { headers: { cookie } })).text()).toContain('1 friend has joined');
  });
});
