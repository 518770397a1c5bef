import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { Browserless, ROOT, runCli, startServer, type RunningServer } from '../helpers/server.ts';
import { substackZip } from '../helpers/post-exports.ts';

/** Post import through the admin page and the CLI, and what readers then see, on the real server. */
const FIXTURES = join(ROOT, 'test', 'fixtures', 'imports', 'posts');
let t: TestDatabase;
let server: RunningServer;
let dir: string;
const owner = () => new Browserless(server.url);

beforeAll(async () => {
  t = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'hearth-post-import-http-'));
  await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  await createStaffUser(t.db, { email: 'mod@example.com', password: 'a long moderator password', role: 'moderator' });
  server = await startServer({ databaseUrl: t.url, env: { UPLOADS_DIR: join(dir, 'uploads') } });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
  await rm(dir, { recursive: true, force: true });
});

async function signIn(email: string, password: string): Promise<Browserless> {
  const b = owner();
  const res = await b.request('/admin/signin', { method: 'POST', form: { email, password } });
  expect(res.status).toBe(303);
  return b;
}

function upload(b: Browserless, bytes: Uint8Array, filename: string) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), filename);
  return b.request('/admin/imports/posts', { method: 'POST', body: form, headers: { origin: server.url } });
}

const postCount = async () => (await t.db.selectFrom('posts').select('id').execute()).length;

describe('importing posts from the admin', () => {
  it('refuses staff without posts:write', async () => {
    const mod = await signIn('mod@example.com', 'a long moderator password');
    expect((await mod.request('/admin/imports/posts')).status).toBe(403);
  });

  it('imports a Ghost export; old addresses answer 301; gated bodies reach no anonymous reader', async () => {
    const b = await signIn('owner@example.com', 'a long owner password');
    const res = await upload(b, await readFile(join(FIXTURES, 'ghost-export.json')), 'roastery.ghost.json');
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('data-testid="post-import-report"');
    expect(html).toMatch(/6 created, 0 updated, 0 skipped/);
    expect(html).toContain('https://cdn.example.net/brew.jpg');

    for (const [old, slug] of [
      ['/welcome/', 'welcome'],
      ['/members-brew-guide', 'members-brew-guide'],
    ]) {
      const r = await fetch(server.url + old, { redirect: 'manual' });
      expect(r.status).toBe(301);
      expect(r.headers.get('location')).toBe(`/posts/${slug}`);
    }
    expect((await fetch(server.url + '/no-such-thing/', { redirect: 'manual' })).status).toBe(404);

    const secrets = ['secret members ratio', 'paid secret', 'Gold tier secret'];
    for (const slug of ['members-brew-guide', 'roast-curves', 'gold-tasting-notes']) {
      const page = await fetch(`${server.url}/posts/${slug}`);
      expect(page.status).toBe(200);
      const body = await page.text();
      for (const s of secrets) expect(body).not.toContain(s);
    }
    const guide = await (await fetch(`${server.url}/posts/members-brew-guide`)).text();
    expect(guide).toContain('Everyone can read this opening paragraph.');
    const rss = await (await fetch(`${server.url}/rss.xml`)).text();
    expect(rss).toContain('members-brew-guide');
    for (const s of secrets) expect(rss).not.toContain(s);
    const api = await fetch(`${server.url}/api/v1/posts?limit=100`);
    expect(api.status).toBe(401);
    const apiBody = await api.text();
    for (const s of secrets) expect(apiBody).not.toContain(s);
    // The feature image was not in the export: no reader page loads it from elsewhere.
    expect(guide).not.toContain('<img src="https://cdn.example.net');
  });

  it('imports a Substack archive: /p/<slug> answers 301 to the post', async () => {
    const b = await signIn('owner@example.com', 'a long owner password');
    const res = await upload(b, await substackZip(), 'substack-export.zip');
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/4 created, 0 updated, 1 skipped/);
    const r = await fetch(`${server.url}/p/hello-from-the-roastery`, { redirect: 'manual' });
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe('/posts/hello-from-the-roastery');
    const post = await (await fetch(server.url + '/posts/hello-from-the-roastery')).text();
    expect(post).toContain('<h3>This week</h3>');
    const paid = await (await fetch(server.url + '/posts/subscribers-only-cupping')).text();
    expect(paid).not.toContain('paid secret');
  });

  it('answers a bad file with a 4xx and a message, writing nothing', async () => {
    const b = await signIn('owner@example.com', 'a long owner password');
    const before = await postCount();
    const evil = zipSync({ 'posts.csv': strToU8('post_id\n'), '../../etc/evil.html': strToU8('x') });
    const res = await upload(b, evil, 'evil.zip');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await res.text()).toContain('outside its folder');
    const notJson = await upload(b, Buffer.from('not an export'), 'x.json');
    expect(notJson.status).toBeGreaterThanOrEqual(400);
    expect(notJson.status).toBeLessThan(500);
    expect(await postCount()).toBe(before);
  });
});

describe('npm run hearth -- import:posts', () => {
  const env = () => ({ DATABASE_URL: t.url, APP_SECRET: TEST_SECRET, UPLOADS_DIR: join(dir, 'uploads') });

  it('updates on re-import and prints the report', async () => {
    const before = await postCount();
    const run = await runCli(['import:posts', join(FIXTURES, 'ghost-export.json'), '--format', 'ghost'], env());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/posts import \(ghost\): 0 created, 6 updated, 0 skipped/);
    expect(await postCount()).toBe(before);
  });

  it('gives a clear error for a file of the wrong shape and writes nothing', async () => {
    const before = await postCount();
    const bad = join(dir, 'members.json');
    await writeFile(bad, '{"members":[{"email":"a@example.com"}]}');
    const run = await runCli(['import:posts', bad], env());
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('not a Ghost content export');
    const usage = await runCli(['import:posts', bad, '--format', 'wordpress'], env());
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--format must be ghost or substack');
    expect(await postCount()).toBe(before);
  });
});
