import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { suppress } from '../../src/domain/members/suppression.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';

/** The members API and the admin's members pages against the real server. */
let t: TestDatabase;
let server: RunningServer;
const auth: Record<'owner' | 'editor' | 'moderator', Record<string, string>> = { owner: {}, editor: {}, moderator: {} };

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 130 });
  for (const role of ['owner', 'editor', 'moderator'] as const) {
    const u = await createStaffUser(t.db, { email: `${role}@example.com`, password: 'a long staff password', role });
    auth[role] = { authorization: `Bearer ${(await createApiToken(t.db, u.id, 'test')).token}`, 'content-type': 'application/json' };
  }
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});

type Member = {
  id: string;
  email: string;
  status: string;
  tier: string;
  newsletters: string[];
  labels: string[];
  source: { platform: string };
  created_at: string;
  referral_code: string;
};
const api = async (path: string, init: RequestInit = {}, who: keyof typeof auth = 'owner') =>
  fetch(server.url + '/api/v1' + path, { ...init, headers: { ...auth[who], ...(init.headers as Record<string, string>) } });

async function all(query: string): Promise<Member[]> {
  const seen: Member[] = [];
  let after: string | null = null;
  do {
    const res = await api(`/members?limit=40&${query}${after ? `&after=${after}` : ''}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { members: Member[]; next: string | null };
    seen.push(...body.members);
    after = body.next;
  } while (after);
  return seen;
}

describe('GET /api/v1/members', () => {
  it('pages through every member once, newest first, with cursors', async () => {
    const members = await all('');
    expect(members).toHaveLength(130);
    expect(new Set(members.map((m) => m.id)).size).toBe(130);
    const times = members.map((m) => m.created_at);
    expect([...times].sort().reverse()).toEqual(times);
    expect(members[0]).toMatchObject({
      status: expect.any(String),
      tier: expect.stringMatching(/free|supporter/),
      newsletters: expect.any(Array),
      referral_code: expect.any(String),
    });
  });

  it('filters by platform, status and newsletter, and the count agrees', async () => {
    const instagram = await all('platform=instagram&status=active');
    expect(instagram.length).toBeGreaterThan(0);
    expect(instagram.every((m) => m.source.platform === 'instagram' && m.status === 'active')).toBe(true);
    const count = (await (await api('/members/count?platform=instagram&status=active')).json()) as { count: number };
    expect(count.count).toBe(instagram.length);
    const dispatch = await all('newsletter=roastery-dispatch');
    expect(dispatch.every((m) => m.newsletters.includes('roastery-dispatch'))).toBe(true);
    expect(((await (await api('/members/count?newsletter=roastery-dispatch')).json()) as { count: number }).count).toBe(dispatch.length);
  });

  it('searches by address prefix, in address order', async () => {
    const found = await all('query=READER1');
    expect(found.length).toBeGreaterThan(10);
    expect(found.every((m) => m.email.startsWith('reader1'))).toBe(true);
    const emails = found.map((m) => m.email);
    expect([...emails].sort()).toEqual(emails);
    expect(await all('query=%25')).toHaveLength(0); // a literal %, not a wildcard
  });

  it('searches names and addresses together: each match once, across pages, in the order of what matched', async () => {
    const free = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'free').executeTakeFirstOrThrow();
    await t.db
      .insertInto('members')
      .values([
        { email: 'anabel@example.com', name: 'Zed Both', referral_code: 'ref-anabel', tier_id: free.id },
        { email: 'zz-ana@example.com', name: 'Ana Onlyname', referral_code: 'ref-ana-name', tier_id: free.id },
        { email: 'ana.both@example.com', name: 'Ana Both', referral_code: 'ref-ana-both', tier_id: free.id },
      ])
      .execute();
    const expected = await t.db
      .selectFrom('members')
      .select(['email', 'name'])
      .where((eb) => eb.or([eb(eb.fn('lower', ['email']), 'like', 'ana%'), eb(eb.fn('lower', ['name']), 'like', 'ana%')]))
      .execute();
    expect(expected.length).toBeGreaterThan(3);
    // Two a page: the cursor crosses from address matches to name matches and back.
    const found: Member[] = [];
    let after: string | null = null;
    do {
      const res = await api(`/members?limit=2&query=Ana${after ? `&after=${after}` : ''}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { members: Member[]; next: string | null };
      found.push(...body.members);
      after = body.next;
    } while (after);
    expect(found.map((m) => m.email).sort()).toEqual(expected.map((m) => m.email).sort());
    // Listed by address when the address matches, else by name: one order, by the matched key.
    const keys = found.map((m) => {
      const e = expected.find((x) => x.email === m.email)!;
      return e.email.startsWith('ana') ? e.email : e.name!.toLowerCase();
    });
    expect([...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(keys);
  });

  it('refuses bad filters and cursors with a 400, never a 500', async () => {
    for (const q of [
      'status=sleeping',
      'platform=myspace',
      'after=garbage',
      'created_from=yesterday',
      'after=' + Buffer.from('["x","1; drop table members"]').toString('base64url'),
    ]) {
      const res = await api(`/members?${q}`);
      expect(res.status, q).toBe(400);
      expect(await res.json()).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    }
  });
});

describe('writing members through the API', () => {
  let id = '';
  it('creates a member (201), refuses a duplicate (409), a bad address and unknown fields (400)', async () => {
    const res = await api('/members', {
      method: 'POST',
      body: JSON.stringify({ email: 'New@Example.com', name: 'New', labels: ['vip'], newsletters: ['weekly-brew'] }),
    });
    expect(res.status).toBe(201);
    const { member } = (await res.json()) as { member: Member };
    id = member.id;
    expect(member).toMatchObject({
      email: 'new@example.com',
      status: 'active',
      tier: 'free',
      newsletters: ['weekly-brew'],
      labels: ['vip'],
      source: { platform: 'direct' },
    });
    expect((await api('/members', { method: 'POST', body: JSON.stringify({ email: 'new@example.com' }) })).status).toBe(409);
    expect((await api('/members', { method: 'POST', body: JSON.stringify({ email: 'nope' }) })).status).toBe(400);
    expect((await api('/members', { method: 'POST', body: JSON.stringify({ email: 'x@example.com', admin: true }) })).status).toBe(400);
    expect((await api('/members', { method: 'POST', body: '[' })).status).toBe(400);
  });

  it('refuses to add a suppressed address', async () => {
    await suppress(t.db, 'gone@example.com', 'complained');
    const res = await api('/members', { method: 'POST', body: JSON.stringify({ email: 'gone@example.com' }) });
    expect(res.status).toBe(409);
  });

  it('updates labels, newsletters and status, and deletes', async () => {
    const res = await api(`/members/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({ labels: ['vip', 'barista'], newsletters: ['roastery-dispatch'], status: 'unsubscribed' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { member: Member }).member).toMatchObject({
      labels: ['barista', 'vip'],
      newsletters: ['roastery-dispatch'],
      status: 'unsubscribed',
    });
    expect((await api(`/members/${id}`, { method: 'PATCH', body: JSON.stringify({ tier: 'nope' }) })).status).toBe(400);
    expect((await api(`/members/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/members/${id}`)).status).toBe(404);
    expect((await api(`/members/${id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('applies roles: editors read but do not write, moderators do neither', async () => {
    expect((await api('/members?limit=1', {}, 'editor')).status).toBe(200);
    expect((await api('/members', { method: 'POST', body: JSON.stringify({ email: 'e@example.com' }) }, 'editor')).status).toBe(403);
    expect((await api('/members?limit=1', {}, 'moderator')).status).toBe(403);
    expect((await api('/members/1', { method: 'PUT', body: '{}' })).status).toBe(405);
  });

  it('serves the OpenAPI document without a token, through the guard, and nothing else there', async () => {
    const res = await fetch(server.url + '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/api/v1/members/{id}');
    expect((await fetch(server.url + '/api/v1/openapi.json', { method: 'POST' })).status).toBe(405);
    // Public means this one document: the calls it describes still want a token.
    expect((await fetch(server.url + '/api/v1/members')).status).toBe(401);
  });
});

describe('the admin members pages', () => {
  const owner = new Browserless('');
  beforeAll(async () => {
    owner.base = server.url;
    await owner.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long staff password' } });
  });

  it('lists and filters members with their count', async () => {
    const page = await (await owner.request('/admin/members?platform=tiktok')).text();
    const count = Number(/data-testid="member-count">(\d+)/.exec(page)?.[1]);
    expect(count).toBe(((await (await api('/members/count?platform=tiktok')).json()) as { count: number }).count);
    expect([...page.matchAll(/data-testid="platform">([a-z]+)</g)].every((m) => m[1] === 'tiktok')).toBe(true);
  });

  it('applies a bulk label only to the count staff confirmed', async () => {
    const count = ((await (await api('/members/count?platform=tiktok')).json()) as { count: number }).count;
    const stale = await owner.request('/admin/members?platform=tiktok', {
      method: 'POST',
      form: { action: 'add_label', label: 'tiktok-fan', confirm: 'yes', expected: String(count + 1) },
    });
    expect(stale.status).toBe(409);
    const ok = await owner.request('/admin/members?platform=tiktok', {
      method: 'POST',
      form: { action: 'add_label', label: 'tiktok-fan', confirm: 'yes', expected: String(count) },
    });
    expect(ok.status).toBe(200);
    expect(((await (await api('/members/count?label=tiktok-fan')).json()) as { count: number }).count).toBe(count);
  });

  it('exports a filter as CSV, with formulas defused', async () => {
    await api('/members', {
      method: 'POST',
      body: JSON.stringify({ email: 'formula@example.com', name: '=HYPERLINK("http://evil")', newsletters: [] }),
    });
    const res = await owner.request('/admin/members/export.csv?query=formula');
    expect(res.headers.get('content-type')).toContain('text/csv');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="members-\d{4}-\d{2}-\d{2}\.csv"$/);
    // A bad filter is a plain 400 with its reason, not a file.
    const bad = await owner.request('/admin/members/export.csv?status=gone');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('status must be one of');
    const lines = (await res.text()).trim().split('\n');
    expect(lines[0]).toMatch(/^id,email,name,status/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`"'=HYPERLINK(""http://evil"")"`);
    const everything = (await (await owner.request('/admin/members/export.csv')).text()).trim().split('\n');
    expect(everything).toHaveLength(1 + ((await (await api('/members/count')).json()) as { count: number }).count);
  });

  it('sorts by name, status, joined, engagement score and last active, both ways, across pages (keyset), as the database orders them', async () => {
    const { sql } = await import('kysely');
    const expected: Record<string, ReturnType<typeof sql>> = {
      'name:asc': sql`order by m.name is null, lower(m.name) collate "C", m.id`,
      'name:desc': sql`order by m.name is null, lower(m.name) collate "C" desc, m.id desc`,
      'status:asc': sql`order by m.status, m.id`,
      'status:desc': sql`order by m.status desc, m.id desc`,
      'joined:asc': sql`order by m.created_at, m.id`,
      'score:desc': sql`order by coalesce(s.score, 0) desc, m.id desc`,
      'score:asc': sql`order by coalesce(s.score, 0), m.id`,
      'active:desc': sql`order by s.last_engaged_at desc nulls last, m.id desc`,
      'active:asc': sql`order by s.last_engaged_at nulls first, m.id`,
    };
    const scored = await t.db.selectFrom('stats_members').select('member_id').where('score', '>', 0).execute();
    expect(scored.length).toBeGreaterThan(0);
    for (const [order, by] of Object.entries(expected)) {
      const [key, dir] = order.split(':');
      const want = (
        await sql<{ id: string }>`select m.id from members m left join stats_members s on s.member_id = m.id ${by}`.execute(t.db)
      ).rows.map((r) => r.id);
      const seen: string[] = [];
      let next: string | null = `/admin/members?sort=${key}&dir=${dir}`;
      let pages = 0;
      while (next) {
        const res = await owner.request(next);
        expect(res.status).toBe(200);
        const html = await res.text();
        expect(html).toContain(`data-sort="${order}"`);
        const table = html.slice(html.indexOf('data-testid="members"'), html.indexOf('</table>'));
        seen.push(...[...table.matchAll(/<a href="\/admin\/members\/(\d+)">/g)].map((m) => m[1]!));
        next = /<a href="(\/admin\/members\?[^"]*after=[^"]*)">Next page/.exec(html)?.[1]?.replaceAll('&amp;', '&') ?? null;
        pages++;
      }
      expect(pages, order).toBeGreaterThan(2);
      expect(seen, order).toEqual(want);
    }
    // The score column is the member page's score.
    const top = (await owner.request('/admin/members?sort=score&dir=desc').then((r) => r.text())).match(
      /<a href="\/admin\/members\/(\d+)">[\s\S]*?data-testid="score">(\d)</,
    );
    expect(Number(top![2])).toBeGreaterThan(0);
  });

  it('refuses an unknown sort column, direction or a cursor of another order with a 400 and a message', async () => {
    const bad = await owner.request('/admin/members?sort=email');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain(
      'The list cannot be sorted by &quot;email&quot;; sort by one of joined, name, status, score, active.',
    );
    const dir = await owner.request('/admin/members?sort=name&dir=sideways');
    expect(dir.status).toBe(400);
    expect(await dir.text()).toContain('dir must be asc or desc.');
    const page1 = await (await owner.request('/admin/members?sort=score&dir=desc')).text();
    const after = /after=([A-Za-z0-9_-]+)/.exec(page1)![1]!;
    const other = await owner.request(`/admin/members?sort=name&dir=asc&after=${after}`);
    expect(other.status).toBe(400);
    expect(await other.text()).toContain('belongs to another order');
    const forged = Buffer.from(JSON.stringify(['score:desc', 0, '9; drop table members', '1'])).toString('base64url');
    expect((await owner.request(`/admin/members?sort=score&dir=desc&after=${forged}`)).status).toBe(400);
    // A search keeps its own order and says so.
    const search = await (await owner.request('/admin/members?query=reader&sort=score&dir=desc')).text();
    expect(search).toContain('data-testid="sort-ignored"');
  });

  it('shows a member page with source and timeline', async () => {
    const [m] = (await all('platform=instagram')).slice(0, 1);
    const page = await (await owner.request(`/admin/members/${m!.id}`)).text();
    expect(page).toContain(m!.email);
    expect(page).toContain('instagram');
    expect((await owner.request('/admin/members/999999999')).status).toBe(404);
  });
});

describe('complimentary access', () => {
  it('puts a member on a paid tier until a date, lets them read paid posts, and ends on time', async () => {
    const { expireComps } = await import('../../src/domain/membership/comp.ts');
    const { sql } = await import('kysely');
    const res = await api('/members', { method: 'POST', body: JSON.stringify({ email: 'comp@example.com' }) });
    const { member } = (await res.json()) as { member: Member };
    const until = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const patched = await api(`/members/${member.id}`, { method: 'PATCH', body: JSON.stringify({ tier: 'supporter', comp_until: until }) });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { member: Member }).member.tier).toBe('supporter');
    const row = await t.db
      .selectFrom('members')
      .select(['tier_source', 'comp_until'])
      .where('id', '=', member.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ tier_source: 'comp' });
    expect(row.comp_until?.toISOString()).toBe(until);
    expect(
      (
        await api(`/members/${member.id}`, {
          method: 'PATCH',
          body: JSON.stringify({ tier: 'supporter', comp_until: '2001-01-01T00:00:00Z' }),
        })
      ).status,
    ).toBe(400);

    expect(await expireComps(t.db)).toBe(0);
    await t.db
      .updateTable('members')
      .set({ comp_until: sql<Date>`now() - interval '1 minute'` as unknown as Date })
      .where('id', '=', member.id)
      .execute();
    expect(await expireComps(t.db)).toBe(1);
    const after = (await (await api(`/members/${member.id}`)).json()) as { member: Member };
    expect(after.member.tier).toBe('free');
    // Without an end date, access stays.
    await api(`/members/${member.id}`, { method: 'PATCH', body: JSON.stringify({ tier: 'supporter', comp_until: null }) });
    expect(await expireComps(t.db)).toBe(0);
  });
});
