import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { getSiteSettings } from '../../src/domain/site/settings.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/** The real server (built site, real CLI) over HTTP: setup, sign-in, guards, API, logs. */
let t: TestDatabase;
let server: RunningServer;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 20 });
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});

describe('health', () => {
  it('reports the database and the in-process worker', async () => {
    const body = await waitFor(async () => (await (await fetch(`${server.url}/healthz`)).json()) as { worker: string }, {
      until: (b) => b.worker === 'up',
      what: 'the worker',
    });
    expect(body).toEqual({ ok: true, db: 'up', worker: 'up' });
  });
});

describe('reader pages', () => {
  it('serves the home page with the brand and loads nothing from another origin', async () => {
    const res = await fetch(server.url + '/');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Field Notes Coffee');
    expect(html).toContain('Why we left the algorithm');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    const port = new URL(server.url).port;
    for (const u of urls)
      expect(u.startsWith('/') || u.startsWith('#') || [`localhost:${port}`, `127.0.0.1:${port}`].includes(new URL(u).host), u).toBe(true);
  });

  it('answers an unknown page with 404', async () => {
    expect((await fetch(server.url + '/no-such-page')).status).toBe(404);
  });
});

describe('owner setup and staff sign-in', () => {
  const owner = new Browserless('');
  beforeAll(() => {
    owner.base = server.url;
  });

  it('sends the first visit to /admin to the setup form', async () => {
    const res = await owner.request('/admin');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/setup');
    expect(await (await owner.request('/admin/setup')).text()).toContain('Create owner account');
  });

  it('refuses a cross-origin setup post', async () => {
    const res = await owner.request('/admin/setup', {
      method: 'POST',
      form: { email: 'evil@example.com', password: 'long enough pw' },
      headers: { origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(await t.db.selectFrom('staff_users').select('id').execute()).toHaveLength(0);
  });

  it('shows a clear error for a weak password, then creates the owner and signs them in', async () => {
    expect(await (await owner.request('/admin/setup')).text()).toMatch(/name="site_name"[^>]*value="Field Notes Coffee"/);
    const weak = await owner.request('/admin/setup', {
      method: 'POST',
      form: { site_name: 'Not Kept', email: 'owner@example.com', password: 'short' },
    });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('at least 10 characters');
    expect((await getSiteSettings(t.db)).title).toBe('Field Notes Coffee');

    const res = await owner.request('/admin/setup', {
      method: 'POST',
      form: { site_name: 'Field Notes Roastery', email: 'owner@example.com', name: 'Olu', password: 'a long owner password' },
    });
    expect(res.status).toBe(303);
    // The brand's name is asked at setup, so a new install's emails never come from "Hearth".
    expect((await getSiteSettings(t.db)).title).toBe('Field Notes Roastery');
    expect(res.headers.get('location')).toBe('/admin');
    const setCookie = res.headers.getSetCookie().join('\n');
    expect(setCookie).toMatch(/hearth_staff=.*HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const dash = await owner.request('/admin');
    expect(dash.status).toBe(200);
    expect(await dash.text()).toContain('Dashboard');
    expect((await owner.request('/admin/setup')).headers.get('location')).toBe('/admin/signin');
  });

  it('signs out, after which the old cookie opens nothing', async () => {
    const oldCookie = owner.cookie;
    const out = await owner.request('/admin/signout', { method: 'POST', form: {} });
    expect(out.status).toBe(303);
    expect(owner.cookie).toBe('');
    const res = await fetch(server.url + '/admin', { headers: { cookie: oldCookie }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/signin');
  });

  it('refuses wrong credentials with 401 and returns to the page asked for after sign-in', async () => {
    const bad = await owner.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'wrong password' } });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toMatch(/<p class="error" role="alert">[^<]*do not match/);
    const first = await owner.request('/admin/outbox');
    expect(first.headers.get('location')).toBe('/admin/signin?next=%2Fadmin%2Foutbox');
    const ok = await owner.request('/admin/signin?next=%2Fadmin%2Foutbox', {
      method: 'POST',
      form: { email: 'OWNER@example.com', password: 'a long owner password' },
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/admin/outbox');
  });

  it('never redirects off-site after sign-in', async () => {
    const s = new Browserless(server.url);
    const res = await s.request('/admin/signin?next=//evil.example/x', {
      method: 'POST',
      form: { email: 'owner@example.com', password: 'a long owner password' },
    });
    expect(res.headers.get('location')).toBe('/admin');
  });

  it('lets the owner add an editor from the staff page, and refuses a cross-origin post', async () => {
    const cross = await owner.request('/admin/staff', {
      method: 'POST',
      form: { email: 'x@example.com', password: 'long enough pw', role: 'admin' },
      headers: { origin: 'http://evil.example' },
    });
    expect(cross.status).toBe(403);
    const res = await owner.request('/admin/staff', {
      method: 'POST',
      form: { email: 'ed@example.com', name: 'Ed', password: 'editor password 1', role: 'editor' },
    });
    expect(res.status).toBe(200);
    // The form's outcome as a status line (components/FormOutcome.astro), announced to screen readers.
    expect(await res.text()).toMatch(/<p class="notice" role="status">\s*Added ed@example.com as editor/);
  });
});

describe('role checks', () => {
  it('keeps a moderator out of the outbox and staff pages, with a 403 page', async () => {
    await createStaffUser(t.db, { email: 'mod@example.com', password: 'moderator pass', role: 'moderator' });
    const mod = new Browserless(server.url);
    expect(
      (await mod.request('/admin/signin', { method: 'POST', form: { email: 'mod@example.com', password: 'moderator pass' } })).status,
    ).toBe(303);
    expect((await mod.request('/admin')).status).toBe(200);
    for (const path of ['/admin/outbox', '/admin/staff', '/admin/outbox/1']) {
      const res = await mod.request(path);
      expect(res.status, path).toBe(403);
      expect(await res.text()).toContain('does not give access');
    }
    const post = await mod.request('/admin/staff', {
      method: 'POST',
      form: { email: 'y@example.com', password: 'long enough pw', role: 'owner' },
    });
    expect(post.status).toBe(403);
  });

  it('keeps an editor from creating an owner', async () => {
    const ed = new Browserless(server.url);
    await ed.request('/admin/signin', { method: 'POST', form: { email: 'ed@example.com', password: 'editor password 1' } });
    expect((await ed.request('/admin/staff')).status).toBe(403);
  });

  it('refuses unknown admin pages and wrong methods instead of falling through', async () => {
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    expect((await s.request('/admin/not-a-page')).status).toBe(404);
    expect((await s.request('/admin', { method: 'POST', form: {} })).status).toBe(405);
  });
});

describe('API v1', () => {
  it('requires a bearer token and says why', async () => {
    const none = await fetch(server.url + '/api/v1/newsletters');
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('Bearer') } });
    const bad = await fetch(server.url + '/api/v1/newsletters', { headers: { authorization: 'Bearer hearth_nope' } });
    expect(bad.status).toBe(401);
    // A staff cookie is not an API credential (so the API needs no CSRF defence).
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    expect((await s.request('/api/v1/newsletters')).status).toBe(401);
  });

  it('answers newsletters, tiers and me for a valid token', async () => {
    const owner = await t.db.selectFrom('staff_users').select('id').where('email', '=', 'mod@example.com').executeTakeFirstOrThrow();
    const { token } = await createApiToken(t.db, owner.id, 'test');
    const auth = { authorization: `Bearer ${token}` };
    const nl = await fetch(server.url + '/api/v1/newsletters', { headers: auth });
    expect(nl.status).toBe(200);
    const { newsletters } = (await nl.json()) as { newsletters: Array<{ slug: string; default: boolean }> };
    expect(newsletters.map((n) => [n.slug, n.default])).toEqual([
      ['weekly-brew', true],
      ['roastery-dispatch', false],
    ]);
    const tiers = (await (await fetch(server.url + '/api/v1/tiers', { headers: auth })).json()) as {
      tiers: Array<{ slug: string; paid: boolean }>;
    };
    expect(tiers.tiers.map((x) => [x.slug, x.paid])).toEqual([
      ['free', false],
      ['supporter', true],
    ]);
    expect(await (await fetch(server.url + '/api/v1/me', { headers: auth })).json()).toEqual({
      staff: expect.objectContaining({ role: 'moderator' }),
    });
    const unknown = await fetch(server.url + '/api/v1/nothing', { headers: auth });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });
});

describe('outbox', () => {
  it('shows a kept email with its HTML (sandboxed), text part and headers', async () => {
    const { createOutboxMailer } = await import('../../src/lib/mailer/outbox.ts');
    await createOutboxMailer(t.db, { from: 'Field Notes <letters@example.com>' }).send({
      to: ['reader@example.com'],
      subject: 'Confirm your subscription',
      html: '<p>Click <a href="https://example.com/confirm">here</a></p><script>alert(1)</script>',
      text: 'Click here: https://example.com/confirm',
      headers: { 'List-Unsubscribe': '<https://example.com/u>' },
    });
    const row = await t.db.selectFrom('outbox').select('id').where('subject', '=', 'Confirm your subscription').executeTakeFirstOrThrow();
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    const list = await (await s.request('/admin/outbox')).text();
    expect(list).toContain('Confirm your subscription');
    const page = await (await s.request(`/admin/outbox/${row.id}`)).text();
    expect(page).toContain('reader@example.com');
    expect(page).toContain('Click here: https://example.com/confirm');
    expect(page).toContain('List-Unsubscribe');
    expect(page).toMatch(/<iframe[^>]+sandbox=""/);
    const html = await s.request(`/admin/outbox/${row.id}/html`);
    expect(await html.text()).toContain('<p>Click');
    expect(html.headers.get('content-security-policy')).toMatch(/^sandbox; default-src 'none'/);
    // Images only from uploads: an email's open pixel (/t/o/…) does not load when staff read it.
    expect(html.headers.get('content-security-policy')).toContain(`img-src ${server.url}/uploads/ data:`);
    expect((await s.request('/admin/outbox/999999')).status).toBe(404);
    expect((await fetch(`${server.url}/admin/outbox/${row.id}/html`, { redirect: 'manual' })).status).toBe(303);
  });
});

describe('sign out everywhere', () => {
  it('ends every session of that staff user and no one else’s', async () => {
    const a = new Browserless(server.url);
    const b = new Browserless(server.url);
    const other = new Browserless(server.url);
    for (const s of [a, b])
      await s.request('/admin/signin', { method: 'POST', form: { email: 'ed@example.com', password: 'editor password 1' } });
    await other.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    expect((await b.request('/admin')).status).toBe(200);
    expect((await a.request('/admin/signout', { method: 'POST', form: { everywhere: '1' } })).status).toBe(303);
    expect((await b.request('/admin')).status).toBe(303);
    expect((await other.request('/admin')).status).toBe(200);
  });
});

describe('site settings', () => {
  it('lets the owner rename the brand and change its colour, and refuses a bad colour', async () => {
    const s = new Browserless(server.url);
    await s.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    const bad = await s.request('/admin/settings', {
      method: 'POST',
      form: { title: 'Field Notes', description: 'x', accent_color: 'red; background:url(//evil)' },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/<p class="error" role="alert">\s*The accent colour is not valid/);
    const ok = await s.request('/admin/settings', {
      method: 'POST',
      form: { title: 'Field Notes Roasters', description: 'Small-batch letters.', accent_color: '#1d4ed8' },
    });
    expect(ok.status).toBe(200);
    const home = await (await fetch(server.url + '/')).text();
    expect(home).toContain('<title>Field Notes Roasters</title>');
    expect(home).toContain('--accent: #1d4ed8');
    // The form leaves the tracking box unticked: per-member tracking is switched off, then on.
    expect((await t.db.selectFrom('settings').select('value').where('key', '=', 'site').executeTakeFirstOrThrow()).value).toMatchObject({
      trackPerMember: false,
    });
    await s.request('/admin/settings', {
      method: 'POST',
      form: { title: 'Field Notes Roasters', description: 'Small-batch letters.', accent_color: '#1d4ed8', track_per_member: 'on' },
    });
    expect((await t.db.selectFrom('settings').select('value').where('key', '=', 'site').executeTakeFirstOrThrow()).value).toMatchObject({
      trackPerMember: true,
    });
    const mod = new Browserless(server.url);
    await mod.request('/admin/signin', { method: 'POST', form: { email: 'mod@example.com', password: 'moderator pass' } });
    expect((await mod.request('/admin/settings')).status).toBe(403);
  });
});

describe('request logs', () => {
  it('writes one JSON line per request with method, path, status and duration, and no addresses or tokens', async () => {
    const signinGets = () =>
      server
        .output()
        .split('\n')
        .filter((l) => {
          try {
            const line = JSON.parse(l) as Record<string, unknown>;
            return line.msg === 'request' && line.path === '/admin/signin' && line.method === 'GET';
          } catch {
            return false; // not JSON, or a line still being written
          }
        }).length;
    const before = signinGets();
    expect((await fetch(server.url + '/admin/signin?next=%2Fadmin%3Femail%3Downer%40example.com')).status).toBe(200);
    // The child's stdout is read asynchronously: wait for the line of that request.
    await waitFor(signinGets, { until: (n) => n > before, what: 'the request line' });
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.findLast((r) => r.path === '/admin/signin' && r.method === 'GET')).toMatchObject({
      level: 'info',
      method: 'GET',
      status: 200,
      ms: expect.any(Number),
    });
    // The start-up banner names the database (hearth_test_…), which is not a token.
    const all = server.output().replaceAll(new URL(t.url).pathname.slice(1), '<database>');
    expect(all).not.toMatch(/owner@example\.com|mod@example\.com|ed@example\.com/);
    expect(all).not.toMatch(/hearth_[A-Za-z0-9_-]{20,}/);
  });
});
