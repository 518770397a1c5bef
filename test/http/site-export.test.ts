import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';

/** GET /admin/export over real HTTP: the owner downloads the site archive; no other role can. */
let t: TestDatabase;
let server: RunningServer;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 5 });
  for (const role of ['owner', 'admin', 'editor'] as const) {
    await createStaffUser(t.db, { email: `${role}@example.com`, password: `${role} password 1`, role });
  }
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

async function signedIn(role: string): Promise<Browserless> {
  const b = new Browserless(server.url);
  const res = await b.request('/admin/signin', { method: 'POST', form: { email: `${role}@example.com`, password: `${role} password 1` } });
  expect(res.status).toBe(303);
  return b;
}

describe('GET /admin/export', () => {
  it('gives the owner the whole site as a gzip archive with its manifest', async () => {
    const owner = await signedIn('owner');
    const res = await owner.request('/admin/export');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="hearth-site-\d{4}-\d{2}-\d{2}\.tar\.gz"/);
    const tar = gunzipSync(Buffer.from(await res.arrayBuffer())).toString('latin1');
    expect(tar).toContain('tables/members/000001.ndjson');
    expect(tar).toContain('"format": "hearth-site"');
    expect(tar).not.toContain('tables/staff_sessions/');
    expect(await (await owner.request('/admin/settings')).text()).toContain('href="/admin/export"');
  });

  it('refuses admins and editors (403), and anyone signed out', async () => {
    for (const role of ['admin', 'editor']) {
      const staff = await signedIn(role);
      expect((await staff.request('/admin/export')).status, role).toBe(403);
    }
    const admin = await signedIn('admin');
    expect(await (await admin.request('/admin/settings')).text()).not.toContain('href="/admin/export"');
    const anonymous = await new Browserless(server.url).request('/admin/export');
    expect([302, 303, 401]).toContain(anonymous.status);
  });
});
