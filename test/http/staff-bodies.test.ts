import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { STAFF_ROUTES } from '../../src/web/guard.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, startServer, type RunningServer } from '../helpers/server.ts';

/**
 * Staff routes given malformed bodies: a clear 4xx (or the form again with its message), never a
 * 500. A small fuzz posts junk to every staff route that takes a body.
 */
let t: TestDatabase;
let server: RunningServer;
let owner: Browserless;
let bearer: string;
let importId: string;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 5 });
  const staff = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  bearer = `Bearer ${(await createApiToken(t.db, staff.id, 'fuzz')).token}`;
  server = await startServer({ databaseUrl: t.url, args: ['--no-worker'] });
  owner = new Browserless(server.url);
  const signIn = await owner.request('/admin/signin', {
    method: 'POST',
    form: { email: 'owner@example.com', password: 'a long owner password' },
  });
  expect(signIn.status).toBe(303);
  // An uploaded import waiting for its options.
  const body = new FormData();
  body.append('file', new Blob(['email,name\nann@example.com,Ann\n'], { type: 'text/csv' }), 'members.csv');
  const uploaded = await owner.request('/admin/imports', { method: 'POST', body, headers: { origin: server.url } });
  expect(uploaded.status).toBe(303);
  importId = /\/admin\/imports\/(\d+)/.exec(uploaded.headers.get('location') ?? '')![1]!;
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});

describe('malformed bodies on staff routes', () => {
  it('answers 400 to an import started with junk fields', async () => {
    const forms: Record<string, string>[] = [
      { format: '../../etc', newsletter: '\u0000', consent: 'x'.repeat(5000), attestation: '\ud800' },
      { newsletter: 'no-such-newsletter', consent: 'confirmed' },
    ];
    for (const form of forms) {
      const res = await owner.request(`/admin/imports/${importId}`, { method: 'POST', form });
      expect(res.status, JSON.stringify(form).slice(0, 80)).toBe(400);
    }
    const junkJson = await owner.request(`/admin/imports/${importId}`, {
      method: 'POST',
      body: '{"newsletter": [1, {"a": 2}], "consent": null',
      headers: { 'content-type': 'application/json', origin: server.url },
    });
    expect(junkJson.status).toBe(400);
    const unknown = await owner.request('/admin/imports/999999999999', { method: 'POST', form: { consent: 'confirmed' } });
    expect(unknown.status).toBeLessThan(500);
    expect(unknown.status).toBeGreaterThanOrEqual(400);
  });

  it('answers 400 to an upload whose multipart body has no boundary', async () => {
    const res = await owner.request('/admin/uploads', {
      method: 'POST',
      body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc\r\n--x--\r\n',
      headers: { 'content-type': 'multipart/form-data', accept: 'application/json', origin: server.url },
    });
    expect(res.status).toBe(400);
    expect((await res.json()) as unknown).toEqual({ error: { code: 'bad_multipart', message: expect.stringContaining('boundary') } });
    const imp = await owner.request('/admin/imports', {
      method: 'POST',
      body: 'junk',
      headers: { 'content-type': 'multipart/form-data; boundary=', origin: server.url },
    });
    expect(imp.status).toBe(400);
    const api = await fetch(`${server.url}/api/v1/imports`, {
      method: 'POST',
      body: 'junk',
      headers: { 'content-type': 'multipart/form-data', authorization: bearer },
    });
    expect(api.status).toBe(400);
  });

  it('never answers 500 to junk posted to any staff route that takes a body', async () => {
    const samplePath = (pattern: RegExp): string[] => {
      // Fill the rule's pattern with real and junk ids; skip rules that need a fixed word we cannot guess.
      const src = pattern.source
        .replaceAll('\\/', '/')
        .replace(/^\^|\$$/g, '')
        .replaceAll('/?', '');
      const choices = /\(([a-z|]+)\)/.exec(src);
      const paths = choices ? choices[1]!.split('|').map((c) => src.replace(choices[0], c)) : [src];
      return paths
        .flatMap((p) => [p.replaceAll('\\d{1,18}', importId), p.replaceAll('\\d{1,18}', '999999999999')])
        .filter((p, i, all) => all.indexOf(p) === i)
        .map((p) => p.replace(/\\\./g, '.').replace(/\(new\|\d+\)/, 'new'))
        .filter((p) => !/[\\()[\]?*+]/.test(p));
    };
    const bodies: { type: string; body: string }[] = [
      {
        type: 'application/x-www-form-urlencoded',
        body: 'id=%00&action=%ff%fe&email=%E2%80%AE&title=' + 'x'.repeat(3000) + '&newsletter=../../x&tier=-1&status=%',
      },
      { type: 'application/x-www-form-urlencoded', body: 'id=99999999999999999999&action=delete&send_at=yesterday&amount=-1e309' },
      {
        type: 'application/x-www-form-urlencoded',
        body: [
          'id',
          'action',
          'email',
          'name',
          'title',
          'slug',
          'newsletter',
          'tier',
          'label',
          'body',
          'markdown',
          'note',
          'password',
          'role',
        ]
          .map((k) => `${k}=a%00b`)
          .join('&'),
      },
      {
        type: 'application/json',
        body: JSON.stringify({ email: 'a\u0000@example.com', name: 'x\u0000', title: '\u0000', markdown: '\u0000', slug: 'a\u0000' }),
      },
      { type: 'application/json', body: '{"id": {"$gt": ""}, "action": ["a"], "title": null, "markdown": 7' },
      { type: 'application/json', body: '[1,2,3]' },
      { type: 'multipart/form-data', body: '--x\r\n\r\n' },
      { type: 'text/plain', body: '\u0000\u0001binary' },
    ];
    const failures: string[] = [];
    let tried = 0;
    for (const rule of STAFF_ROUTES) {
      const methods = (rule.methods ?? ['POST']).filter((m) => m !== 'GET' && m !== 'HEAD');
      for (const path of samplePath(rule.pattern)) {
        if (path.startsWith('/admin/signout') || path.startsWith('/admin/setup')) continue;
        for (const method of methods) {
          for (const { type, body } of bodies) {
            const headers = { 'content-type': type, origin: server.url, authorization: bearer };
            const res = path.startsWith('/api/')
              ? await fetch(server.url + path, { method, body, headers })
              : await owner.request(path, { method, body, headers });
            await res.arrayBuffer();
            tried++;
            if (res.status >= 500) failures.push(`${method} ${path} (${type}) → ${res.status}`);
          }
        }
      }
    }
    expect(tried).toBeGreaterThan(100);
    expect(failures).toEqual([]);
  });
});
