import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { saveSiteSettings } from '../../src/domain/site/settings.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { Browserless, heard, runCli, type RunningServer, startServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startResendTestServer, type RecordedEmail, type ResendTestServer } from '../servers/resend.ts';

/**
 * A brand's own install, from an EMPTY database (migrated, no demo): nothing but the CLI and the
 * API. Not open for subscriptions until a newsletter exists; then a newsletter with its own
 * sender and reply-to, a reader who subscribes from /join/instagram, confirms and gets a welcome
 * with the Reply-To, a post sent to the newsletter; archiving; bad input. Email goes through the
 * real Resend SDK to the local Resend test server, so the Reply-To checked is the one on the wire.
 */
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
let cliEnv: Record<string, string>;
let auth: Record<string, string>;

beforeAll(async () => {
  t = await createTestDatabase();
  resend = await startResendTestServer();
  cliEnv = { DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, LOG_LEVEL: 'warn' };
  server = await startServer({ databaseUrl: t.url, env: { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: resend.url } });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await resend?.close();
  await t?.drop();
});
beforeEach(async () => {
  await t.db.deleteFrom('rate_limits').execute();
});

const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  fetch(server.url + path, {
    method: init.method ?? 'GET',
    headers: { ...auth, 'content-type': 'application/json', ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });

const postForm = (path: string, fields: Record<string, string>) =>
  fetch(server.url + path, {
    method: 'POST',
    body: new URLSearchParams(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url },
    redirect: 'manual',
  });

const emailTo = (to: string, subject: RegExp) =>
  waitFor(() => resend.emails.find((e) => e.to.includes(to) && subject.test(e.subject)), {
    what: `an email "${subject.source}" to ${to}`,
    timeout: 30_000,
  }) as Promise<RecordedEmail>;

const memberStatus = async (email: string) =>
  (await t.db.selectFrom('members').select('status').where('email', '=', email).executeTakeFirst())?.status;

describe('a site with no newsletter', () => {
  it('tells readers it is not open for subscriptions yet, on every form and on POST /subscribe', async () => {
    expect(await t.db.selectFrom('newsletters').select('id').execute()).toEqual([]);
    for (const path of ['/', '/join', '/join/instagram', '/links', '/embed/subscribe']) {
      const res = await fetch(server.url + path);
      expect(res.status, path).toBe(200);
      const html = await res.text();
      expect(html, path).toContain('Not open for subscriptions yet');
      expect(html, path).not.toContain('action="/subscribe"');
    }
    const json = await fetch(server.url + '/subscribe', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'early@example.com' }),
    });
    expect(json.status).toBe(409);
    expect((await json.json()).error.code).toBe('not_open');
    const form = await postForm('/subscribe', { email: 'early@example.com', newsletter: 'anything' });
    expect(form.status).toBe(409);
    const page = await form.text();
    expect(page).toContain('Not open for subscriptions yet');
    expect(page).not.toContain('Choose at least one newsletter');
    expect(await memberStatus('early@example.com')).toBeUndefined();
  });
});

describe('newsletters from the CLI and the API', () => {
  it('creates the owner and a token with the CLI', async () => {
    const staff = await runCli(
      ['staff:create', '--email', 'owner@example.com', '--password', 'a long owner password', '--role', 'owner'],
      cliEnv,
    );
    expect(staff.stderr).toBe('');
    expect(staff.code).toBe(0);
    const token = await runCli(['token:create', '--email', 'owner@example.com'], cliEnv);
    expect(token.code).toBe(0);
    auth = { authorization: `Bearer ${token.stdout.trim()}` };
  });

  it('creates a newsletter with the API: 201, its sender and reply-to, the first becomes the default', async () => {
    const res = await api('/api/v1/newsletters', {
      method: 'POST',
      body: { slug: 'field-notes', name: 'Field Notes', sender_name: 'Ada at Field Notes', reply_to: 'ada@fieldnotes.example' },
    });
    expect(res.status).toBe(201);
    const { newsletter } = await res.json();
    expect(newsletter).toMatchObject({
      slug: 'field-notes',
      name: 'Field Notes',
      default: true,
      sender_name: 'Ada at Field Notes',
      sender_email: null,
      reply_to: 'ada@fieldnotes.example',
      archived: false,
    });
  });

  it('creates a second one with the CLI, and refuses a bad or taken slug there with one line', async () => {
    const ok = await runCli(['newsletter:create', '--slug', 'dispatch', '--name', 'Dispatch'], cliEnv);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^created newsletter dispatch "Dispatch" \(id \d+\)$/m);
    const taken = await runCli(['newsletter:create', '--slug', 'dispatch', '--name', 'Again'], cliEnv);
    expect(taken.code).toBe(1);
    expect(taken.stderr.trim()).toBe('hearth: A newsletter called "dispatch" exists already; choose another slug.');
    const bad = await runCli(['newsletter:create', '--slug', 'Not A Slug', '--name', 'Bad'], cliEnv);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^hearth: The slug "Not A Slug" is not valid: use lower-case letters/);
    const missing = await runCli(['newsletter:create', '--slug', 'nameless'], cliEnv);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--name is required');
    const list = await runCli(['newsletter:list'], cliEnv);
    expect(list.stdout).toBe('field-notes\tField Notes\t(default)\ndispatch\tDispatch\n');
  });

  it('answers bad input with a 4xx and a message', async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/api/v1/newsletters', { slug: 'Field Notes', name: 'x' }, 400, 'invalid_slug'],
      ['POST', '/api/v1/newsletters', { slug: '-dash', name: 'x' }, 400, 'invalid_slug'],
      ['POST', '/api/v1/newsletters', { slug: 'a'.repeat(64), name: 'x' }, 400, 'invalid_slug'],
      ['POST', '/api/v1/newsletters', { slug: 'field-notes', name: 'Twice' }, 409, 'newsletter_exists'],
      ['POST', '/api/v1/newsletters', { slug: 'ok', name: '' }, 400, 'invalid_body'],
      ['POST', '/api/v1/newsletters', { slug: 'ok', name: 'Ok', reply_to: 'not an address' }, 400, 'invalid_newsletter'],
      ['POST', '/api/v1/newsletters', { slug: 'ok', name: 'Ok', sender_email: 'a@b' }, 400, 'invalid_newsletter'],
      ['POST', '/api/v1/newsletters', { slug: 'ok', name: 'Ok', colour: 'red' }, 400, 'invalid_body'],
      ['PATCH', '/api/v1/newsletters/nope', { name: 'x' }, 404, 'unknown_newsletter'],
      ['PATCH', '/api/v1/newsletters/dispatch', { slug: 'field-notes' }, 409, 'newsletter_exists'],
      ['DELETE', '/api/v1/newsletters/nope', undefined, 404, 'unknown_newsletter'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await api(path, { method, body });
      const answer = await res.json();
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(answer.error.code, JSON.stringify(answer)).toBe(code);
      expect(answer.error.message.length).toBeGreaterThan(5);
    }
    const raw = await fetch(server.url + '/api/v1/newsletters', { method: 'POST', headers: auth, body: '{"slug":' });
    expect(raw.status).toBe(400);
  });

  it('lets only owners and admins manage newsletters', async () => {
    await runCli(['staff:create', '--email', 'ed@example.com', '--password', 'a long editor password', '--role', 'editor'], cliEnv);
    const token = (await runCli(['token:create', '--email', 'ed@example.com'], cliEnv)).stdout.trim();
    const editor = { authorization: `Bearer ${token}` };
    expect((await api('/api/v1/newsletters', { headers: editor })).status).toBe(200);
    expect((await api('/api/v1/newsletters', { method: 'POST', headers: editor, body: { slug: 'mine', name: 'Mine' } })).status).toBe(403);
    expect((await api('/api/v1/newsletters/dispatch', { method: 'DELETE', headers: editor })).status).toBe(403);
    expect((await api('/api/v1/newsletters/dispatch', { method: 'PATCH', headers: editor, body: { name: 'X' } })).status).toBe(403);
    expect((await fetch(server.url + '/admin/newsletters', { redirect: 'manual' })).status).not.toBe(200);
  });

  it('moves the default: one at a time', async () => {
    const res = await api('/api/v1/newsletters/dispatch', { method: 'PATCH', body: { default: true, description: 'Now and then.' } });
    expect(res.status).toBe(200);
    const list = (await (await api('/api/v1/newsletters')).json()).newsletters as Array<{ slug: string; default: boolean }>;
    expect(list.filter((n) => n.default).map((n) => n.slug)).toEqual(['dispatch']);
    await api('/api/v1/newsletters/field-notes', { method: 'PATCH', body: { default: true } });
    const again = (await (await api('/api/v1/newsletters')).json()).newsletters as Array<{ slug: string; default: boolean }>;
    expect(again.filter((n) => n.default).map((n) => n.slug)).toEqual(['field-notes']);
  });
});

describe('a reader of the new newsletter', () => {
  const reader = 'reader@example.com';

  it('subscribes from /join/instagram, confirms, and every email carries the newsletter’s sender and Reply-To', async () => {
    const join = await (await fetch(server.url + '/join/instagram')).text();
    expect(join).toContain('value="field-notes"');
    expect(join).toContain('value="dispatch"');
    const res = await postForm('/subscribe', {
      email: reader,
      newsletter: 'field-notes',
      platform: 'instagram',
      landing_page: '/join/instagram',
    });
    expect(res.status).toBe(303);
    const confirmation = await emailTo(reader, /confirm/i);
    expect(confirmation.replyTo).toBe('ada@fieldnotes.example');
    expect(confirmation.from).toBe(`"Ada at Field Notes" <hearth@127.0.0.1>`);
    const link = /href="([^"]*\/confirm\?token=[^"]+)"/.exec(confirmation.html!)![1]!.replaceAll('&amp;', '&');
    // A GET (a mail scanner, or the reader opening the link) shows one button and changes nothing.
    const shown = await fetch(link);
    expect(shown.status).toBe(200);
    expect(await shown.text()).toContain('data-testid="confirm-button"');
    expect(await memberStatus(reader)).toBe('pending');
    // The POST the button sends confirms.
    const token = new URL(link).searchParams.get('token')!;
    const confirmed = await postForm('/confirm', { token });
    expect(confirmed.status).toBeLessThan(400);
    expect(await memberStatus(reader)).toBe('active');
    const welcome = await emailTo(reader, /welcome/i);
    expect(welcome.replyTo).toBe('ada@fieldnotes.example');
    expect(welcome.from).toBe(`"Ada at Field Notes" <hearth@127.0.0.1>`);
  });

  it('gets a post sent to the newsletter with its Reply-To', async () => {
    const created = await api('/api/v1/posts', {
      method: 'POST',
      body: { title: 'First letter', markdown: 'Hello, readers.', visibility: 'public', status: 'published' },
    });
    expect(created.status).toBe(201);
    const { post } = await created.json();
    const send = await api('/api/v1/sends', {
      method: 'POST',
      body: { post_id: post.id, segment: { newsletters: ['field-notes'] }, undo_seconds: 0 },
    });
    expect(send.status).toBe(201);
    const letter = await emailTo(reader, /First letter/);
    expect(letter.replyTo).toBe('ada@fieldnotes.example');
    expect(letter.from).toBe(`"Ada at Field Notes" <hearth@127.0.0.1>`);
  });

  it('gets emails about no newsletter with the site’s reply-to, under the site’s name (never "Hearth")', async () => {
    await saveSiteSettings(t.db, { title: 'Field Notes Coffee', reply_to: 'hello@fieldnotes.example' });
    await heard(server, t.db);
    const res = await postForm('/signin', { email: reader });
    expect(res.status).toBeLessThan(400);
    const signin = await emailTo(reader, /sign/i);
    expect(signin.replyTo).toBe('hello@fieldnotes.example');
    expect(signin.from).toBe('"Field Notes Coffee" <hearth@127.0.0.1>');
    expect(signin.from).not.toMatch(/Hearth/);
  });
});

describe('an archived newsletter', () => {
  it('keeps its members, takes no new subscribers and leaves the reader forms', async () => {
    const res = await api('/api/v1/newsletters/field-notes', { method: 'DELETE' });
    expect(res.status).toBe(200);
    const { newsletter } = await res.json();
    expect(newsletter).toMatchObject({ slug: 'field-notes', archived: true, default: false });

    const open = (await (await api('/api/v1/newsletters')).json()).newsletters.map((n: { slug: string }) => n.slug);
    expect(open).toEqual(['dispatch']);
    const all = (await (await api('/api/v1/newsletters?archived=1')).json()).newsletters.map((n: { slug: string }) => n.slug);
    expect(all).toEqual(['field-notes', 'dispatch']);

    const kept = await sql<{ n: string }>`
      select count(*) as n from member_newsletters mn join newsletters n on n.id = mn.newsletter_id where n.slug = 'field-notes'`.execute(
      t.db,
    );
    expect(Number(kept.rows[0]!.n)).toBe(1);

    const join = await (await fetch(server.url + '/join/instagram')).text();
    expect(join).not.toContain('field-notes');
    const refused = await fetch(server.url + '/subscribe', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'late@example.com', newsletter: ['field-notes'] }),
    });
    expect(refused.status).toBe(409);
    const body = await refused.json();
    expect(body.error).toEqual({ code: 'newsletter_archived', message: '"Field Notes" is closed to new subscribers.' });
    expect(await memberStatus('late@example.com')).toBeUndefined();

    expect((await api('/api/v1/newsletters/field-notes', { method: 'PATCH', body: { default: true } })).status).toBe(409);
    const cli = await runCli(['newsletter:archive', '--slug', 'dispatch'], cliEnv);
    expect(cli.stdout).toBe('archived newsletter dispatch\n');
    // Nothing open: the site says so again.
    expect(await (await fetch(server.url + '/join')).text()).toContain('Not open for subscriptions yet');
    const reopened = await api('/api/v1/newsletters/dispatch', { method: 'PATCH', body: { archived: false } });
    expect((await reopened.json()).newsletter.archived).toBe(false);
  });
});

describe('the admin page', () => {
  it('creates, edits, reorders, marks default and archives, with a clear error on bad input', async () => {
    const owner = new Browserless(server.url);
    const signin = await owner.request('/admin/signin', {
      method: 'POST',
      form: { email: 'owner@example.com', password: 'a long owner password' },
    });
    expect(signin.status).toBe(303);
    const page = async (form?: Record<string, string>) => {
      const res = await owner.request('/admin/newsletters', form ? { method: 'POST', form } : {});
      return { status: res.status, html: await res.text() };
    };
    expect((await page()).html).toContain('Dispatch');

    const bad = await page({ action: 'create', slug: 'Bad Slug', name: 'Bad' });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('The slug &quot;Bad Slug&quot; is not valid');
    const taken = await page({ action: 'create', slug: 'dispatch', name: 'Again' });
    expect(taken.status).toBe(409);

    const made = await page({ action: 'create', slug: 'letters', name: 'Letters', reply_to: 'letters@fieldnotes.example', default: '1' });
    expect(made.status).toBe(200);
    expect(made.html).toContain('Newsletter &quot;Letters&quot; created (the default).');
    await page({
      action: 'update',
      slug: 'letters',
      new_slug: 'letters',
      name: 'The Letters',
      description: 'Sundays.',
      sender_name: 'Ada',
      sender_email: '',
      reply_to: '',
    });
    await page({ action: 'up', slug: 'letters' });
    await page({ action: 'default', slug: 'dispatch' });
    await page({ action: 'archive', slug: 'field-notes' });
    const rows = await t.db
      .selectFrom('newsletters')
      .select(['slug', 'name', 'is_default', 'sender_name', 'reply_to', 'archived_at'])
      .orderBy('sort_order')
      .execute();
    expect(rows.map((r) => [r.slug, r.name, r.is_default, r.sender_name, r.reply_to, r.archived_at !== null])).toEqual([
      ['field-notes', 'Field Notes', false, 'Ada at Field Notes', 'ada@fieldnotes.example', true],
      ['letters', 'The Letters', false, 'Ada', null, false],
      ['dispatch', 'Dispatch', true, null, null, false],
    ]);

    const editor = new Browserless(server.url);
    await editor.request('/admin/signin', { method: 'POST', form: { email: 'ed@example.com', password: 'a long editor password' } });
    expect((await editor.request('/admin/newsletters')).status).toBe(403);
  });
});
