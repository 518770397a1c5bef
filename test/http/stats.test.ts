import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshStats } from '../../src/domain/stats/rollup.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';

/** /api/v1/stats/* and the stats pages against the real server: guards, shapes, 400s, CSV. */
let t: TestDatabase;
let server: RunningServer;
let sendId = '';
const tokens: Record<string, string> = {};
const owner = new Browserless('');
let postId = '';

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 30);
  // A campaign name that a spreadsheet would run as a formula.
  await sql`update members set utm_campaign = '=HYPERLINK("http://evil.example")' where id in (select id from members order by id limit 5)`.execute(
    t.db,
  );
  for (const role of ['owner', 'editor', 'moderator'] as const) {
    const user = await createStaffUser(t.db, { email: `${role}@example.com`, password: `a long ${role} password`, role });
    tokens[role] = (await createApiToken(t.db, user.id, role)).token;
  }
  const post = await makePost(t.db);
  const s = await sql<{
    id: string;
  }>`insert into sends (post_id, status, segment, recipients, delivered, prepared_at) values (${post}, 'sent', '{}', 30, 30, now() - interval '1 day') returning id`.execute(
    t.db,
  );
  sendId = s.rows[0]!.id;
  await sql`insert into deliveries (send_id, member_id, email, variant, status, posted_at) select ${sendId}, id, email, 'a', 'posted', now() - interval '1 day' from members`.execute(
    t.db,
  );
  await sql`insert into send_links (send_id, link, url) values (${sendId}, 1, 'https://example.com/a')`.execute(t.db);
  await sql`insert into engagement_events (occurred_at, kind, member_id, send_id, link, machine) select now() - interval '2 hours', 'click', id, ${sendId}, 1, false from members order by id limit 6`.execute(
    t.db,
  );
  // Web reads of the post: 4 by members who also clicked (the engaged rate stays 6 of 30), 3
  // anonymous views, 2 by a crawler (not counted).
  await sql`insert into engagement_events (occurred_at, kind, member_id, post_id, machine) select now() - interval '3 hours', 'read', id, ${post}, false from members order by id offset 2 limit 4`.execute(
    t.db,
  );
  await sql`insert into engagement_events (occurred_at, kind, post_id, machine) select now() - interval '3 hours', 'view', ${post}, g > 3 from generate_series(1, 5) g`.execute(
    t.db,
  );
  postId = post;
  await refreshStats(t.db);
  server = await startServer({ databaseUrl: t.url });
  owner.base = server.url;
  await owner.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
});
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

const api = (path: string, role = 'editor') => fetch(server.url + path, { headers: { authorization: `Bearer ${tokens[role]}` } });

describe('/api/v1/stats', () => {
  it('answers the overview, sources, cohorts and a send report to staff with stats:read', async () => {
    const overview = (await (await api('/api/v1/stats/overview?days=30')).json()) as {
      members: unknown;
      engagement: unknown;
      days: unknown[];
    };
    expect(overview.members).toEqual({ free: 30, paid: 0, total: 30 });
    expect(overview.engagement).toEqual({ days: 30, engaged: 6, emailed: 30, rate: 0.2 });
    expect(overview.days).toHaveLength(30);
    const sources = (await (await api('/api/v1/stats/sources')).json()) as { platforms: Array<{ platform: string; signups: number }> };
    expect(sources.platforms).toEqual([expect.objectContaining({ platform: 'instagram', signups: 30, engaged_rate: 0.2 })]);
    const cohorts = (await (await api('/api/v1/stats/cohorts?platform=instagram')).json()) as {
      platform: string;
      cohorts: Array<{ members: number }>;
    };
    expect(cohorts.platform).toBe('instagram');
    expect(cohorts.cohorts[0]!.members).toBe(30);
    const report = (await (await api(`/api/v1/stats/sends/${sendId}`)).json()) as Record<string, unknown>;
    expect(report).toMatchObject({
      recipients: 30,
      delivered: 30,
      clicks: { human: 6, unique_human: 6, machine: 0 },
      click_rate: 0.2,
      links: [{ link: 1, url: 'https://example.com/a', human_clicks: 6 }],
    });
  });

  it('refuses bad parameters with a 400 and the API error shape, unknown sends with a 404', async () => {
    for (const path of ['/api/v1/stats/overview?days=abc', '/api/v1/stats/overview?days=5', '/api/v1/stats/cohorts?platform=myspace']) {
      const res = await api(path);
      expect(res.status, path).toBe(400);
      expect(await res.json()).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
    }
    const missing = await api('/api/v1/stats/sends/999999');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('send_not_found');
  });

  it('is closed to a moderator and to anonymous requests', async () => {
    expect((await api('/api/v1/stats/overview', 'moderator')).status).toBe(403);
    expect((await fetch(`${server.url}/api/v1/stats/overview`)).status).toBe(401);
  });
});

describe('the stats pages', () => {
  it("shows a post's member reads and anonymous views, with a CSV", async () => {
    const res = await owner.request(`/admin/stats/posts/${postId}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-testid="reads">4<');
    expect(html).toContain('data-testid="views">3<');
    expect(html).toContain('<svg');
    const csv = await (await owner.request(`/admin/stats/posts/${postId}.csv`)).text();
    expect(csv.split('\n')[0]).toBe('post_id,day,member_reads,anonymous_views');
    expect(csv).toContain(',4,3');
    expect((await owner.request('/admin/stats/posts/999999')).status).toBe(404);
    expect((await fetch(`${server.url}/admin/stats/posts/${postId}`, { redirect: 'manual' })).status).toBe(303);
  });

  it('draws the overview with inline SVG and no script', async () => {
    const res = await owner.request('/admin/stats');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<svg');
    expect(html).toContain('data-testid="engaged-rate">20%');
    expect(html).not.toMatch(/<script[^>]+src="https?:/);
  });

  it('draws the cohorts heatmap and refuses an unknown platform with a 400', async () => {
    expect(await (await owner.request('/admin/stats/cohorts')).text()).toContain('class="chart heatmap"');
    expect((await owner.request('/admin/stats/cohorts?platform=myspace')).status).toBe(400);
    expect((await owner.request(`/admin/stats/sends/${sendId}`)).status).toBe(200);
  });

  it("shows a member's engagement score and its reasons on the member page", async () => {
    const clicked = (await sql<{ id: string }>`select id from members order by id limit 1`.execute(t.db)).rows[0]!.id;
    const html = await (await owner.request(`/admin/members/${clicked}`)).text();
    expect(html).toContain('<strong>1 / 5</strong>');
    expect(html).toContain('1 click in 30 days');
  });

  it('exports the tables as CSV with formulas defused', async () => {
    const res = await owner.request('/admin/stats/sources.csv');
    expect(res.headers.get('content-type')).toContain('text/csv');
    const text = await res.text();
    expect(text.split('\n')[0]).toBe(
      'dimension,key,signups,confirmed,confirmation_rate,retained_30,retained_30_rate,retained_90,retained_90_rate,emailed,engaged,engaged_rate,paid,paid_rate,mrr_cents',
    );
    expect(text).toContain(`campaign,"'=HYPERLINK(""http://evil.example"")",5,`);
    const overview = await (await owner.request('/admin/stats/overview.csv?days=30')).text();
    expect(overview.trim().split('\n')).toHaveLength(31);
    expect(await (await owner.request(`/admin/stats/sends/${sendId}.csv`)).text()).toContain('https://example.com/a,6,6,0');
    expect((await owner.request('/admin/stats/overview.csv?days=x')).status).toBe(400);
  });
});
