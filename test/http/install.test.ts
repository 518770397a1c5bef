import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startDnsTestServer, type DnsTestServer } from '../servers/dns.ts';

/**
 * A fresh install against the real server, its DNS_SERVERS pointed at a local DNS server: the
 * dashboard and /admin/checklist show the missing records and turn green when they are added; a
 * silent DNS server gives "could not check" quickly and readers never wait on it; the test email
 * goes out through the worker. Then the site's time zone, set in the settings page, is the one
 * the scheduling forms speak.
 */
let t: TestDatabase;
let dns: DnsTestServer;
let server: RunningServer;
const owner = new Browserless('');
const editor = new Browserless('');

beforeAll(async () => {
  t = await createTestDatabase();
  dns = await startDnsTestServer();
  await createStaffUser(t.db, { email: 'owner@brand.org', password: 'a long owner password', role: 'owner' });
  await createStaffUser(t.db, { email: 'editor@brand.org', password: 'a long editor password', role: 'editor' });
  server = await startServer({ databaseUrl: t.url, env: { DNS_SERVERS: dns.address, MAIL_FROM: 'Brand <letters@brand.org>' } });
  for (const [who, email] of [
    [owner, 'owner@brand.org'],
    [editor, 'editor@brand.org'],
  ] as const) {
    who.base = server.url;
    const res = await who.request('/admin/signin', { method: 'POST', form: { email, password: `a long ${email.split('@')[0]} password` } });
    expect(res.status).toBe(303);
  }
});
afterAll(async () => {
  await server?.stop();
  await dns?.close();
  await t?.drop();
});

const page = async (who: Browserless, path: string) => {
  const res = await who.request(path);
  return { status: res.status, html: await res.text() };
};
const state = (html: string, id: string) => new RegExp(`data-item="${id}" data-state="(\\w+)"`).exec(html)?.[1];

describe('the install checklist in the admin', () => {
  it('shows the missing records on the dashboard and the checklist page, with the fix', async () => {
    const dash = await page(owner, '/admin');
    expect(dash.html).toContain('Getting this install ready');
    expect(state(dash.html, 'dkim')).toBe('todo');
    const list = await page(owner, '/admin/checklist');
    expect(list.status).toBe(200);
    for (const id of ['spf', 'dkim', 'dmarc', 'newsletter', 'postal_address', 'test_email']) expect(state(list.html, id)).toBe('todo');
    expect(list.html).toMatch(/data-testid="record-spf"[^]*send\.brand\.org[^]*v=spf1 include:amazonses\.com ~all/);
    expect(list.html).toContain('resend._domainkey.brand.org');
    expect(list.html).toContain(`${server.url}/webhooks/stripe`);
    expect(list.html).toContain('checkout.session.completed');
    expect(dns.questions).toContain('TXT _dmarc.brand.org');
  });

  it('turns the lines green once the records exist and "Check again" is pressed', async () => {
    dns.records.set('send.brand.org', { txt: ['v=spf1 include:amazonses.com ~all'] });
    dns.records.set('resend._domainkey.brand.org', { txt: [`p=${'B'.repeat(200)}`] });
    dns.records.set('_dmarc.brand.org', { txt: ['v=DMARC1; p=none'] });
    const again = await owner.request('/admin/checklist', { method: 'POST', form: { intent: 'recheck' } });
    expect(again.status).toBe(303);
    const list = await page(owner, again.headers.get('location')!);
    for (const id of ['spf', 'dkim', 'dmarc']) expect(state(list.html, id)).toBe('done');
    expect(list.html).not.toContain('data-testid="record-spf"');
  });

  it('says "could not check" within seconds when the DNS server is silent; reader pages never ask it', async () => {
    dns.silent = true;
    try {
      const before = dns.askedAt.length;
      const list = await page(owner, '/admin/checklist?fresh=1');
      // Within one 1.5 s timeout, not one per question: every question went out before the first
      // could have timed out (one after another, each would follow the last by at least 1.5 s).
      // Measured at the DNS server, not as the page's time, which load stretches. A bound about
      // correctness, not speed: the server sends every question in one turn of its event loop
      // (checkSenderDomain's Promise.all), and this process reads the datagrams queued for it
      // together, so the spread is a few ms even on a loaded machine, far under 1.5 s.
      const askedAt = dns.askedAt.slice(before);
      expect(askedAt.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...askedAt) - Math.min(...askedAt)).toBeLessThan(1500);
      expect(state(list.html, 'spf')).toBe('unknown');
      expect(list.html).toContain('could not check');
      const asked = dns.questions.length;
      const home = await fetch(server.url + '/');
      expect(home.status).toBe(200);
      await (await fetch(server.url + '/join')).text();
      expect(dns.questions.length).toBe(asked);
    } finally {
      dns.silent = false;
    }
  });

  it('queues a test email to yourself; the line turns green once the worker sent it', async () => {
    const res = await owner.request('/admin/checklist', { method: 'POST', form: { intent: 'test-email', to: 'owner@brand.org' } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/admin/checklist?queued=1');
    await waitFor(async () => state((await page(owner, '/admin/checklist')).html, 'test_email'), {
      until: (s) => s === 'done',
      what: 'the test email line to turn green',
    });
    const sent = await t.db.selectFrom('outbox').select(['to_addresses', 'subject']).execute();
    expect(sent).toEqual([{ to_addresses: ['owner@brand.org'], subject: 'Test email from Hearth' }]);
    const bad = await owner.request('/admin/checklist', { method: 'POST', form: { intent: 'test-email', to: 'nobody' } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Cannot send the test email');
  });

  it('is for owners and admins: an editor gets 403 and a dashboard without it', async () => {
    expect((await page(editor, '/admin/checklist')).status).toBe(403);
    const dash = await page(editor, '/admin');
    expect(dash.status).toBe(200);
    expect(dash.html).not.toContain('install-checklist');
  });
});

describe('the site time zone in the admin', () => {
  it('is set in the settings page (a bad name is a 400 with a message) and used by the post and send forms', async () => {
    const settings = (time_zone: string) =>
      owner.request('/admin/settings', {
        method: 'POST',
        form: { title: 'Brand', description: 'Letters', accent_color: '#c2410c', time_zone, reply_to: '', postal_address: '' },
      });
    const bad = await settings('Atlantis/Capital');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('The time zone is not valid');
    const ok = await settings('Europe/Paris');
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('value="Europe/Paris"');

    // 31 March 2030, 09:00 in Paris is 07:00 UTC (summer time began that night).
    const created = await owner.request('/admin/posts/new', {
      method: 'POST',
      form: {
        title: 'Spring',
        markdown: 'Hello',
        visibility: 'public',
        status: 'published',
        publish_at: '2030-03-31T09:00',
        intent: 'save',
      },
    });
    expect(created.status).toBe(303);
    const post = await t.db.selectFrom('posts').select(['id', 'published_at']).where('slug', '=', 'spring').executeTakeFirstOrThrow();
    expect(post.published_at).toEqual(new Date('2030-03-31T07:00:00Z'));
    const editorPage = await page(owner, `/admin/posts/${post.id}`);
    expect(editorPage.html).toContain('Europe/Paris time');
    expect(editorPage.html).toContain('value="2030-03-31T09:00"');
    const sendForm = await page(owner, `/admin/sends/new?post=${post.id}`);
    expect(sendForm.html).toContain('Or send at (Europe/Paris time)');
  });
});
