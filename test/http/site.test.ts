import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import * as postsRoute from '../../src/pages/api/v1/posts/index.ts';
import * as siteRoute from '../../src/pages/api/v1/site.ts';
import { allowed, decideRoute } from '../../src/web/guard.ts';
import type { ApiDeps } from '../../src/web/api/route.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * GET/PATCH /api/v1/site and GET /api/v1/posts, called in process (the routes' own handlers with
 * real Requests on a real, empty database): what they answer, and the 400s on bad values.
 */
let t: TestDatabase;
let deps: ApiDeps;
beforeAll(async () => {
  t = await createTestDatabase();
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  deps = {
    db: t.db,
    siteUrl: 'http://hearth.test',
    stripe: undefined,
    staff: { id: owner.id, email: owner.email, name: owner.name, role: 'owner' },
  };
});
afterAll(async () => {
  await t?.drop();
});

const req = (path: string, init: RequestInit = {}) =>
  new Request(`http://hearth.test${path}`, { ...init, headers: { 'content-type': 'application/json' } });
const patchSite = async (body: unknown) => {
  const res = await siteRoute.PATCH.handle(req('/api/v1/site', { method: 'PATCH', body: JSON.stringify(body) }), deps);
  return { status: res.status, body: (await res.json()) as { site: Record<string, unknown>; error?: { code: string; message: string } } };
};

describe('site settings over the API', () => {
  it('answers the defaults on an empty database', async () => {
    const res = await siteRoute.GET.handle(req('/api/v1/site'), deps);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      site: {
        name: 'Hearth',
        description: 'A newsletter and membership community.',
        accent_color: '#c2410c',
        logo: null,
        share_image: null,
        design: {
          link_color: '#9a3412',
          background_color: '#f5f5f4',
          heading_font: 'helvetica',
          body_font: 'georgia',
          button_style: 'rounded',
          logo_width: 160,
          show_title: true,
          footer_text: '',
          show_view_in_browser: true,
          show_feature_image: true,
          show_author: false,
        },
        time_zone: 'UTC',
        language: 'en',
        languages: [
          { code: 'en', dir: 'ltr', name: 'English' },
          { code: 'fr', dir: 'ltr', name: 'Français' },
        ],
        reply_to: null,
        postal_address: '',
        track_per_member: true,
        fediverse: { enabled: false, handle: 'news', hold_replies: true },
      },
    });
  });

  it('changes the design, one field at a time, and refuses a bad colour, font or width with the reason', async () => {
    let r = await patchSite({ design: { link_color: '#0F766E', heading_font: 'trebuchet', show_author: true } });
    expect(r.status).toBe(200);
    expect(r.body.site.design).toMatchObject({ link_color: '#0f766e', heading_font: 'trebuchet', show_author: true, body_font: 'georgia' });
    r = await patchSite({ design: { button_style: 'pill' } });
    expect(r.body.site.design).toMatchObject({ link_color: '#0f766e', button_style: 'pill' });
    for (const [design, reason] of [
      [{ link_color: 'red' }, 'The link colour is not valid: must be a colour written #rrggbb'],
      [{ background_color: '#12345' }, 'The background colour is not valid'],
      [{ body_font: 'Comic Sans' }, 'The body font is not valid: must be one of system'],
      [{ logo_width: 5000 }, 'The logo width is not valid: must be at most 536 pixels'],
      [{ button_style: 'blink' }, 'The button style is not valid'],
    ] as const) {
      const bad = await patchSite({ design });
      expect(bad.status).toBe(400);
      expect(bad.body.error?.message).toContain(reason);
    }
    const accent = await patchSite({ accent_color: 'orange' });
    expect(accent.status).toBe(400);
    expect(accent.body.error?.message).toContain('The accent colour is not valid');
    expect((await patchSite({ share_image: 'https://elsewhere.example/x.png' })).status).toBe(400);
    expect((await patchSite({ design: { nope: 1 } })).status).toBe(400);
    // What was refused left the design as it was.
    expect((await patchSite({})).body.site.design).toMatchObject({ link_color: '#0f766e', button_style: 'pill', logo_width: 160 });
    await patchSite({ design: { link_color: '#9a3412', heading_font: 'helvetica', show_author: false, button_style: 'rounded' } });
  });
  it('changes only the fields it is given, keeps the rest, and clears reply_to with null', async () => {
    let r = await patchSite({ name: 'Field Notes', time_zone: 'europe/paris', reply_to: 'Hello@Example.com', postal_address: '1 Rue X' });
    expect(r.status).toBe(200);
    expect(r.body.site).toMatchObject({
      name: 'Field Notes',
      time_zone: 'Europe/Paris',
      reply_to: 'hello@example.com',
      postal_address: '1 Rue X',
      description: 'A newsletter and membership community.',
    });
    r = await patchSite({ description: 'Letters.' });
    expect(r.body.site).toMatchObject({
      name: 'Field Notes',
      time_zone: 'Europe/Paris',
      reply_to: 'hello@example.com',
      description: 'Letters.',
    });
    r = await patchSite({ reply_to: null });
    expect(r.body.site.reply_to).toBeNull();
    const stored = await t.db.selectFrom('settings').select('value').where('key', '=', 'site').executeTakeFirstOrThrow();
    expect(stored.value).toMatchObject({ title: 'Field Notes', timeZone: 'Europe/Paris' });
    expect(stored.value).not.toHaveProperty('reply_to');
  });

  it.each([
    [{ time_zone: 'Mars/Olympus_Mons' }, /time zone/i],
    [{ time_zone: '' }, /time zone/i],
    [{ reply_to: 'not an address' }, /reply-to address is not valid/],
    [{ reply_to: 'a@b' }, /reply-to address is not valid/],
    [{ postal_address: 'x'.repeat(501) }, /postal_address/],
    [{ name: '' }, /name is not valid/i],
    [{ name: 'x'.repeat(121) }, /name/],
    [{ colour: 'red' }, /colour|unrecognized/i],
    ['not an object', /body/i],
  ])('refuses %j with a 400 and a message, changing nothing', async (body, message) => {
    const before = await t.db.selectFrom('settings').select('value').where('key', '=', 'site').executeTakeFirst();
    const r = await patchSite(body);
    expect(r.status).toBe(400);
    expect(r.body.error!.message).toMatch(message);
    const after = await t.db.selectFrom('settings').select('value').where('key', '=', 'site').executeTakeFirst();
    expect(after).toEqual(before);
  });

  it('is for owners and admins: editors and moderators are refused by the guard', () => {
    for (const method of ['GET', 'PATCH']) {
      const d = decideRoute('/api/v1/site', method);
      expect(d).toEqual({ kind: 'staff', permission: 'settings:manage' });
      if (d.kind !== 'staff') continue;
      expect(allowed('owner', d.permission)).toBe(true);
      expect(allowed('admin', d.permission)).toBe(true);
      expect(allowed('editor', d.permission)).toBe(false);
      expect(allowed('moderator', d.permission)).toBe(false);
    }
    expect(decideRoute('/api/v1/site', 'DELETE').kind).toBe('method_not_allowed');
  });
});

describe('GET /api/v1/posts', () => {
  beforeAll(async () => {
    await sql`insert into tiers (slug, name, paid, monthly_amount, currency) values ('gold', 'Gold', true, 500, 'eur') on conflict do nothing`.execute(
      t.db,
    );
    // 7 posts: 3 published public (one tagged), 1 due scheduled, 1 future scheduled, 1 draft, 1 members-only published.
    await sql`
      insert into posts (slug, title, status, visibility, published_at, tags, tier_ids) values
        ('p1', 'P1', 'published', 'public', now() - interval '3 days', '{news}', '{}'),
        ('p2', 'P2', 'published', 'public', now() - interval '2 days', '{}', '{}'),
        ('p3', 'P3', 'scheduled', 'public', now() - interval '1 minute', '{news}', '{}'),
        ('p4', 'P4', 'scheduled', 'public', now() + interval '2 days', '{}', '{}'),
        ('p5', 'P5', 'draft', 'public', null, '{news}', '{}'),
        ('p6', 'P6', 'published', 'members', now() - interval '1 day', '{}', '{}'),
        ('p7', 'P7', 'published', 'tiers', now() - interval '1 day', '{}', array[(select id from tiers where slug = 'gold')])
    `.execute(t.db);
  });

  const list = async (query: string) => {
    const res = await postsRoute.GET.handle(req(`/api/v1/posts${query}`), deps);
    return {
      status: res.status,
      body: (await res.json()) as {
        posts: Array<{ slug: string; status: string; visibility: unknown }>;
        next: string | null;
        error?: { message: string };
      },
    };
  };

  it('pages every post newest first by cursor, each post once', async () => {
    const seen: string[] = [];
    let after = '';
    for (let i = 0; i < 10; i++) {
      const r = await list(`?limit=3${after ? `&after=${after}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.body.posts.length).toBeLessThanOrEqual(3);
      seen.push(...r.body.posts.map((p) => p.slug));
      if (!r.body.next) break;
      after = r.body.next;
    }
    expect(seen).toEqual(['p7', 'p6', 'p5', 'p4', 'p3', 'p2', 'p1']);
  });

  it('filters by status (a due scheduled post is published), visibility and tag', async () => {
    const slugs = async (q: string) => (await list(q)).body.posts.map((p) => p.slug);
    expect(await slugs('?status=published')).toEqual(['p7', 'p6', 'p3', 'p2', 'p1']);
    expect(await slugs('?status=scheduled')).toEqual(['p4']);
    expect(await slugs('?status=draft')).toEqual(['p5']);
    expect(await slugs('?visibility=members')).toEqual(['p6']);
    expect(await slugs('?visibility=tiers')).toEqual(['p7']);
    expect((await list('?visibility=tiers')).body.posts[0]!.visibility).toEqual({ tiers: ['gold'] });
    expect(await slugs('?tag=NEWS')).toEqual(['p5', 'p3', 'p1']);
    expect(await slugs('?tag=news&status=published&limit=1')).toEqual(['p3']);
  });

  it.each([
    '?status=deleted',
    '?visibility=secret',
    '?limit=0',
    '?limit=201',
    '?limit=ten',
    '?after=garbage',
    `?tag=${'x'.repeat(51)}`,
    '?tag=',
  ])('refuses %s with a 400 and a message', async (query) => {
    const r = await list(query);
    expect(r.status).toBe(400);
    expect(r.body.error!.message.length).toBeGreaterThan(5);
  });
});
