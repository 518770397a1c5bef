import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';

/** Image uploads for posts: checked by content, stored on disk, served from this site. */
let t: TestDatabase;
let server: RunningServer;
let staff: Browserless;
const uploads = mkdtempSync(join(tmpdir(), 'hearth-uploads-'));
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]);

beforeAll(async () => {
  t = await createTestDatabase();
  await createStaffUser(t.db, { email: 'ed@example.com', password: 'an editor password', role: 'editor' });
  server = await startServer({ databaseUrl: t.url, env: { UPLOADS_DIR: uploads } });
  staff = new Browserless(server.url);
  await staff.request('/admin/signin', { method: 'POST', form: { email: 'ed@example.com', password: 'an editor password' } });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
  rmSync(uploads, { recursive: true, force: true });
});

function upload(bytes: Buffer, name: string, json = true, cookie = staff.cookie) {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(bytes)]), name);
  return fetch(server.url + '/admin/uploads?back=/admin/posts/1', {
    method: 'POST',
    body: form,
    redirect: 'manual',
    headers: { cookie, origin: server.url, ...(json ? { accept: 'application/json' } : {}) },
  });
}

describe('image uploads', () => {
  it('stores a real image under a random name and serves it with long cache headers', async () => {
    const res = await upload(PNG, 'photo.exe');
    expect(res.status).toBe(201);
    const { url } = (await res.json()) as { url: string };
    expect(url).toMatch(/^\/uploads\/\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.png$/);
    const served = await fetch(server.url + url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(served.headers.get('cache-control')).toContain('immutable');
    expect(Buffer.from(await served.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it('refuses what is not an image, whatever its name, and oversized files, with clear errors', async () => {
    const html = await upload(Buffer.from('<script>alert(1)</script>'), 'x.png');
    expect(html.status).toBe(400);
    expect(((await html.json()) as { error: { code: string } }).error.code).toBe('not_an_image');
    const big = await upload(Buffer.concat([PNG, Buffer.alloc(10 * 1024 * 1024)]), 'big.png');
    expect(big.status).toBe(400);
    expect(((await big.json()) as { error: { message: string } }).error.message).toContain('larger than 10 MiB');
  });

  it('sends a form upload back to the editor with the Markdown to paste, and refuses anonymous uploads', async () => {
    const res = await upload(PNG, 'p.png', false);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/admin\/posts\/1\?image=%2Fuploads%2F/);
    const anonymous = await upload(PNG, 'p.png', true, '');
    expect(anonymous.status).toBe(401);
  });

  it('serves nothing outside the uploads folder', async () => {
    for (const path of [
      '/uploads/../../package.json',
      '/uploads/2026-01/..%2F..%2Fpackage.json',
      '/uploads/x.png',
      '/uploads/2026-11/AAAAAAAAAAAAAAAA.png',
    ]) {
      expect((await fetch(server.url + path)).status, path).toBe(404);
    }
  });
});

describe('logo and feature image', () => {
  it('uses an uploaded image as the logo and a post’s feature image, in the page and its link previews', async () => {
    const { url } = (await (await upload(PNG, 'logo.png')).json()) as { url: string };
    const owner = await createStaffUser(t.db, { email: 'own@example.com', password: 'an owner password', role: 'owner' });
    const o = new Browserless(server.url);
    await o.request('/admin/signin', { method: 'POST', form: { email: owner.email, password: 'an owner password' } });
    const bad = await o.request('/admin/settings', {
      method: 'POST',
      form: { title: 'Brand', description: '', accent_color: '#123456', logo: 'https://evil.example/x.png' },
    });
    expect(bad.status).toBe(400);
    expect(
      (
        await o.request('/admin/settings', {
          method: 'POST',
          form: { title: 'Brand', description: '', accent_color: '#123456', logo: url },
        })
      ).status,
    ).toBe(200);
    const home = await (await fetch(server.url + '/')).text();
    expect(home).toContain(`<img class="logo" src="${url}"`);
    expect(home).toMatch(new RegExp(`<meta property="og:image" content="http://[^"]+${url}">`));

    const { token } = await createApiToken(t.db, owner.id, 'posts');
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const refused = await fetch(server.url + '/api/v1/posts', {
      method: 'POST',
      headers,
      body: JSON.stringify({ title: 'Pic', feature_image: 'https://cdn.example/x.png' }),
    });
    expect(refused.status).toBe(400);
    const made = await fetch(server.url + '/api/v1/posts', {
      method: 'POST',
      headers,
      body: JSON.stringify({ title: 'Pic post', feature_image: url, status: 'published' }),
    });
    expect(made.status).toBe(201);
    const page = await (await fetch(server.url + '/posts/pic-post')).text();
    expect(page).toContain(`<img class="feature-image" src="${url}"`);
    expect(page).toContain('content="summary_large_image"');
  });
});

describe('API token cannot upload through the cookie-only admin route', () => {
  it('answers 401', async () => {
    const u = await createStaffUser(t.db, { email: 'api@example.com', password: 'a long staff password', role: 'owner' });
    const { token } = await createApiToken(t.db, u.id, 'x');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(PNG)]), 'p.png');
    const res = await fetch(server.url + '/admin/uploads', {
      method: 'POST',
      body: form,
      headers: { authorization: `Bearer ${token}`, origin: server.url },
      redirect: 'manual',
    });
    expect(res.status).toBe(401);
  });
});
