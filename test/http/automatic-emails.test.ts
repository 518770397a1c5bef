import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { Browserless, runCli, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { startResendTestServer, type RecordedEmail, type ResendTestServer } from '../servers/resend.ts';

/**
 * Automatic emails through the real server, worker and Resend SDK: an editor rewrites the French
 * welcome email with the API; the next French member gets it, an English member still gets the
 * default, and the confirmation email is unchanged; a moderator may not touch it; a test send
 * reaches the Resend test server; reset brings the default back for the next member; the admin
 * editor shows, previews and refuses like the API.
 */
let t: TestDatabase;
let server: RunningServer;
let resend: ResendTestServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestDatabase();
  resend = await startResendTestServer();
  const cliEnv = { DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, LOG_LEVEL: 'warn' };
  server = await startServer({ databaseUrl: t.url, env: { RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: resend.url } });
  for (const role of ['editor', 'moderator'] as const) {
    await runCli(['staff:create', '--email', `${role}@example.com`, '--password', 'a long staff password', '--role', role], cliEnv);
    tokens[role] = (await runCli(['token:create', '--email', `${role}@example.com`], cliEnv)).stdout.trim();
  }
  await runCli(['newsletter:create', '--slug', 'gazette', '--name', 'La Gazette', '--default'], cliEnv);
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await resend?.close();
  await t?.drop();
});

const api = (path: string, method = 'GET', body?: unknown, role: 'editor' | 'moderator' = 'editor') =>
  fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${tokens[role]}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
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

/** Subscribes and confirms; answers the welcome email. */
async function join(email: string, language: string, welcome: RegExp): Promise<{ confirmation: RecordedEmail; welcome: RecordedEmail }> {
  expect((await postForm('/subscribe', { email, name: 'Camille', newsletter: 'gazette', language })).status).toBe(303);
  const confirmation = await emailTo(email, /onfirm/);
  const link = /href="([^"]*\/confirm\?token=[^"]+)"/.exec(confirmation.html!)![1]!.replaceAll('&amp;', '&');
  expect((await postForm('/confirm', { token: new URL(link).searchParams.get('token')! })).status).toBeLessThan(400);
  return { confirmation, welcome: await emailTo(email, welcome) };
}

const FRENCH = {
  subject: 'Bienvenue dans la famille, {{member.name}}',
  preheader: 'Tout sur {{newsletters}}',
  markdown: 'Salut **{{member.name}}** !\n\nNos lettres arrivent le mardi.\n\n[Lire les derniers articles]({{site.url}}/posts)',
  language: 'fr',
};

describe('rewriting the welcome email', () => {
  it('is for editors and above: a moderator gets 403', async () => {
    expect((await api('/api/v1/emails', 'GET', undefined, 'moderator')).status).toBe(403);
    expect((await api('/api/v1/emails/welcome', 'PUT', FRENCH, 'moderator')).status).toBe(403);
    const list = (await (await api('/api/v1/emails')).json()) as { emails: Array<{ kind: string }> };
    expect(list.emails.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['welcome', 'confirmation', 'sign_in', 'trial_reminder', 'gift']),
    );
  });

  it('changes what the next French member receives, and nothing else', async () => {
    const res = await api('/api/v1/emails/welcome', 'PUT', FRENCH);
    expect(res.status).toBe(200);
    const saved = ((await res.json()) as { email: { custom: boolean; version: number; language: string } }).email;
    expect(saved).toMatchObject({ custom: true, version: 1, language: 'fr' });

    const fr = await join('camille@example.com', 'fr', /famille/);
    expect(fr.welcome.subject).toBe('Bienvenue dans la famille, Camille');
    expect(fr.welcome.html).toContain('Salut <strong>Camille</strong> !');
    expect(fr.welcome.html).toContain('Nos lettres arrivent le mardi.');
    expect(fr.welcome.html).toMatch(/href="http:\/\/[^"]+\/posts"/);
    expect(fr.welcome.text).toContain('Salut Camille !');
    // The preferences link in the footer and the List-Unsubscribe header stay.
    expect(fr.welcome.html).toMatch(/href="[^"]*\/unsubscribe\?token=/);
    expect(fr.welcome.headers?.['List-Unsubscribe']).toMatch(/unsubscribe\?token=/);
    // The French confirmation is the default, as before.
    expect(fr.confirmation.subject).toMatch(/^Confirmez votre abonnement à /);

    const en = await join('ann@example.com', 'en', /^Welcome to /);
    expect(en.welcome.html).not.toContain('Salut');
    expect(en.welcome.html).toContain('Reply to any email to reach a person.');
  });

  it('refuses an unknown variable with its line; the previous version stays live', async () => {
    const res = await api('/api/v1/emails/welcome', 'PUT', { ...FRENCH, markdown: 'Salut\n\n{{membre.nom}}' });
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('unknown_variable');
    expect(error.message).toMatch(/^Line 3 of the body: \{\{membre\.nom\}\} is not a variable/);
    const live = ((await (await api('/api/v1/emails/welcome?language=fr')).json()) as { email: { version: number; markdown: string } })
      .email;
    expect(live.version).toBe(1);
    expect(live.markdown).toBe(FRENCH.markdown);
  });

  it('refuses a confirmation email without its confirm link, with the reason', async () => {
    const res = await api('/api/v1/emails/confirmation', 'PUT', { subject: 'Confirm', preheader: '', markdown: 'Thanks for joining!' });
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('required_link');
    expect(error.message).toMatch(/confirm_url/);
  });

  it('lists its versions', async () => {
    expect((await api('/api/v1/emails/welcome', 'PUT', { ...FRENCH, subject: 'Deuxième version' })).status).toBe(200);
    const body = (await (await api('/api/v1/emails/welcome/versions?language=fr')).json()) as {
      versions: Array<{ version: number; subject: string; created_by: string }>;
    };
    expect(body.versions.map((v) => [v.version, v.subject])).toEqual([
      [2, 'Deuxième version'],
      [1, FRENCH.subject],
    ]);
    expect(body.versions[0]!.created_by).toBe('editor@example.com');
  });

  it('sends a test to yourself through the queue, to the Resend test server', async () => {
    const res = await api('/api/v1/emails/welcome/test', 'POST', { language: 'fr' });
    expect(res.status).toBe(202);
    const test = await emailTo('editor@example.com', /^\[Test\] Deuxième version$/);
    expect(test.html).toContain('Salut <strong>Alex Sample</strong> !');
  });

  it('sends at most 10 tests an hour per staff user: then a 429 that says so, with Retry-After', async () => {
    // One test went out above; nine more are allowed.
    for (let i = 0; i < 9; i++) expect((await api('/api/v1/emails/confirmation/test', 'POST', { language: 'en' })).status).toBe(202);
    const refused = await api('/api/v1/emails/welcome/test', 'POST', { language: 'fr' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(
      /^You have sent 10 test emails in the last hour: wait \d+ (seconds|minutes) before sending another\.$/,
    );
  });

  it('reset restores the default for the next member', async () => {
    const res = await api('/api/v1/emails/welcome/reset', 'POST', { language: 'fr' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { email: { custom: boolean } }).email.custom).toBe(false);
    const fr = await join('louise@example.com', 'fr', /^Bienvenue sur /);
    expect(fr.welcome.html).not.toContain('Salut');
  });
});

describe('the admin editor', () => {
  const editor = new Browserless('');
  beforeAll(async () => {
    editor.base = server.url;
    const res = await editor.request('/admin/signin', {
      method: 'POST',
      form: { email: 'editor@example.com', password: 'a long staff password' },
    });
    expect(res.status).toBe(303);
  });

  it('lists the emails and shows one with its default text, variables and preview', async () => {
    const list = await (await editor.request('/admin/emails')).text();
    expect(list).toContain('href="/admin/emails/trial_reminder?language=fr"');
    const page = await (await editor.request('/admin/emails/confirmation?language=fr')).text();
    expect(page).toContain('{{confirm_url}}');
    expect(page).toContain('Confirmez votre abonnement à {{site.name}}');
    expect(page).toContain('<iframe');
    expect(page).not.toMatch(/<script[^>]+src="https?:\/\//);
  });

  it('previews unsaved text for a sample member, and refuses a broken one with its line', async () => {
    const ok = await editor.request('/admin/emails/welcome/preview', {
      method: 'POST',
      form: { language: 'en', subject: 'Hi {{member.name}}', preheader: '', markdown: 'Hello **{{member.name}}**' },
    });
    expect(ok.status).toBe(200);
    const html = await ok.text();
    expect(html).toContain('Hello <strong>Alex Sample</strong>');
    expect(ok.headers.get('content-security-policy')).toMatch(/sandbox/);
    const bad = await editor.request('/admin/emails/welcome/preview', {
      method: 'POST',
      form: { language: 'en', subject: 'Hi', preheader: '', markdown: 'Hello {{nobody}}' },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Line 1 of the body');
  });

  it('refuses an eleventh test send in the hour from the form too, saying why (the limit is per staff user, shared with the API)', async () => {
    const res = await editor.request('/admin/emails/welcome?language=en', { method: 'POST', form: { language: 'en', intent: 'test' } });
    expect(res.status).toBe(429);
    expect(await res.text()).toContain('You have sent 10 test emails in the last hour');
  });

  it('saves from the form, and keeps the text on screen when it refuses it', async () => {
    const bad = await editor.request('/admin/emails/sign_in?language=en', {
      method: 'POST',
      form: { language: 'en', intent: 'save', subject: 'Sign in', preheader: '', markdown: 'Your code: {{code}}' },
    });
    expect(bad.status).toBe(400);
    const page = await bad.text();
    expect(page).toMatch(/signin_url/);
    expect(page).toContain('Your code: {{code}}');
    const good = await editor.request('/admin/emails/sign_in?language=en', {
      method: 'POST',
      form: { language: 'en', intent: 'save', subject: 'Sign in', preheader: '', markdown: '[Sign in]({{signin_url}}) or type {{code}}' },
    });
    expect(good.status).toBe(200);
    expect(await good.text()).toContain('Your text is live (version 1)');
  });
});
