import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { Browserless, ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/** Imports through the API and the admin's two-step flow, run by the real worker. */
let t: TestDatabase;
let server: RunningServer;
let token = '';
const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'imports', name));

beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 0 });
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  token = (await createApiToken(t.db, owner.id, 'imports')).token;
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});

function upload(file: Buffer | null, fields: Record<string, string> = {}, filename = 'list.csv') {
  const form = new FormData();
  if (file) form.append('file', new Blob([new Uint8Array(file)], { type: 'text/csv' }), filename);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return fetch(server.url + '/api/v1/imports', { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
}

async function waitDone(id: string) {
  return waitFor(
    async () => {
      const res = await fetch(`${server.url}/api/v1/imports/${id}`, { headers: { authorization: `Bearer ${token}` } });
      return (
        (await res.json()) as {
          import: { status: string; rows: number; imported: number; updated: number; rejected: number; progress: number };
        }
      ).import;
    },
    { until: (imp) => imp.status === 'done' || imp.status === 'failed', timeout: 20_000, what: `import ${id} to finish` },
  );
}

describe('POST /api/v1/imports', () => {
  it('imports a Mailchimp export as a job and sends new members a confirmation', async () => {
    const res = await upload(
      fixture('mailchimp-subscribed.csv'),
      { newsletter: 'roastery-dispatch', send_confirmation: 'true' },
      'subscribed.csv',
    );
    expect(res.status).toBe(202);
    const { import: queued } = (await res.json()) as { import: { id: string; status: string; format: string } };
    expect(queued).toMatchObject({ status: 'queued', format: 'mailchimp' });
    const done = await waitDone(queued.id);
    expect(done).toMatchObject({ status: 'done', rows: 3, imported: 2, updated: 0, rejected: 1, progress: 1 });
    const ann = await t.db.selectFrom('members').selectAll().where('email', '=', 'ann@example.com').executeTakeFirstOrThrow();
    expect(ann).toMatchObject({ status: 'pending', source_platform: 'import', name: 'Ann Smith' });
    const confirmations = await waitFor(
      async () =>
        Number(
          (
            await t.db
              .selectFrom('outbox')
              .select(sql<string>`count(*)`.as('n'))
              .where('subject', 'like', 'Confirm your subscription%')
              .executeTakeFirstOrThrow()
          ).n,
        ),
      { until: (n) => n >= 2, what: 'two confirmation emails' },
    );
    expect(confirmations).toBe(2);
  });

  it('refuses bad requests with a clear 400 and writes nothing', async () => {
    const before = await t.db
      .selectFrom('members')
      .select(sql<string>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    const noFile = await upload(null, { newsletter: 'weekly-brew' });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { error: { code: string } }).error.code).toBe('no_file');
    expect((await upload(fixture('generic.csv'), { format: 'myspace' })).status).toBe(400);
    expect((await upload(fixture('generic.csv'), { mark_confirmed: 'true' })).status).toBe(400);
    expect((await upload(fixture('generic.csv'), { newsletter: 'nope' })).status).toBe(400);
    expect((await upload(Buffer.from([0, 1, 2, 3, 255, 0, 0]), {})).status).toBe(400);
    expect((await upload(Buffer.from(''), {})).status).toBe(400);
    const notMultipart = await fetch(server.url + '/api/v1/imports', {
      method: 'POST',
      body: 'email\na@example.com',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
    });
    expect(notMultipart.status).toBe(400);
    const after = await t.db
      .selectFrom('members')
      .select(sql<string>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
    // Refused at the start step: the upload itself is gone too.
    expect(await t.db.selectFrom('imports').select('id').where('status', '=', 'uploaded').execute()).toHaveLength(0);
  });
});

describe('the admin import flow', () => {
  it('uploads, shows the mapping and first rows, imports as confirmed with an attestation, and reports rejections', async () => {
    const owner = new Browserless(server.url);
    await owner.request('/admin/signin', { method: 'POST', form: { email: 'owner@example.com', password: 'a long owner password' } });
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(fixture('ghost.csv'))], { type: 'text/csv' }), 'ghost-members.csv');
    const uploaded = await fetch(server.url + '/admin/imports', {
      method: 'POST',
      body: form,
      headers: { cookie: owner.cookie, origin: server.url },
      redirect: 'manual',
    });
    expect(uploaded.status).toBe(303);
    const page = uploaded.headers.get('location')!;
    expect(page).toMatch(/^\/admin\/imports\/\d+$/);
    const preview = await (await owner.request(page)).text();
    expect(preview).toContain('ghost (detected)');
    expect(preview).toMatch(/data-testid="mapping"[\s\S]*email[\s\S]*email/);

    const refused = await owner.request(page, {
      method: 'POST',
      form: { format: 'ghost', newsletter: 'weekly-brew', consent: 'confirmed', attestation: '' },
    });
    expect(refused.status).toBe(400);
    // Preview first: the plan says what will happen, with the paying members' plans to map.
    const previewing = await owner.request(page, {
      method: 'POST',
      form: {
        format: 'ghost',
        newsletter: 'weekly-brew',
        consent: 'confirmed',
        attestation: 'Signed up on our Ghost site (double opt-in)',
        preview: '1',
      },
    });
    expect(previewing.status).toBe(303);
    const plan = await waitFor(async () => (await owner.request(page)).text(), {
      until: (html) => html.includes('data-testid="plan"'),
      timeout: 20_000,
      what: 'the import plan',
    });
    expect(plan).toContain('4 new members will be added');
    expect(plan).toMatch(/data-testid="plans"[\s\S]*Gold \(comp, 1 members\)/);
    expect(plan).toMatch(/data-testid="unmapped">Not imported unless you map them: id\./);
    expect(await t.db.selectFrom('members').select('id').where('email', '=', 'comp@example.com').execute()).toEqual([]);

    const started = await owner.request(page, {
      method: 'POST',
      form: {
        format: 'ghost',
        newsletter: 'weekly-brew',
        consent: 'confirmed',
        attestation: 'Signed up on our Ghost site (double opt-in)',
        'plan:0': 'Gold',
        'plan_tier:0': 'supporter',
        'plan_access:0': 'comp',
        'plan:1': 'Gold',
        'plan_tier:1': 'supporter',
        'plan_access:1': 'paid',
      },
    });
    expect(started.status).toBe(303);
    const report = await waitFor(
      async () => {
        const res = await owner.request(page);
        const html = await res.text();
        // Until the report shows, the page refreshes itself.
        if (!html.includes('data-testid="report"')) expect(res.headers.get('refresh')).toBe('2');
        return html;
      },
      { until: (html) => html.includes('data-testid="report"'), timeout: 20_000, what: 'the import report' },
    );
    const rejected = Number(/data-testid="rejected">(\d+)/.exec(report)?.[1]);
    expect(rejected).toBeGreaterThan(0);
    const download = await owner.request(`${page}/rejections.csv`);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="import-${page.split('/').pop()}-rejected.csv"`);
    const csv = await download.text();
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('row,email,reason');
    expect(lines).toHaveLength(rejected + 1);
    expect((await owner.request('/admin/imports/999999/rejections.csv')).status).toBe(404);
    expect((await owner.request('/admin/imports/999999/changes.csv')).status).toBe(404);
    const imported = Number(/data-testid="imported">(\d+)/.exec(report)?.[1]);
    const active = await t.db
      .selectFrom('members')
      .select(['status', 'confirmed_at'])
      .where('import_id', '=', page.split('/').pop()!)
      .execute();
    expect(active.length).toBeGreaterThanOrEqual(imported);
    const comp = await t.db
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .select(['t.slug', 'm.tier_source'])
      .where('m.email', '=', 'comp@example.com')
      .executeTakeFirstOrThrow();
    expect(comp).toEqual({ slug: 'supporter', tier_source: 'comp' });
  });
});

describe('preview, start and changes through the API', () => {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(server.url + path, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });

  it('previews a cutover file, lists who it unsubscribes, then starts it', async () => {
    const first = await upload(Buffer.from('email,status\ncut1@example.com,subscribed\ncut2@example.com,subscribed\n'), {
      mark_confirmed: 'true',
      attestation: 'form',
    });
    await waitDone(((await first.json()) as { import: { id: string } }).import.id);
    const res = await upload(Buffer.from('E-Mail-Adresse,Zustand\ncut1@example.com,subscribed\ncut2@example.com,unsubscribed\n'), {
      preview: 'true',
      mapping: JSON.stringify({ 'E-Mail-Adresse': 'email', Zustand: 'status' }),
    });
    expect(res.status).toBe(202);
    const { import: queued } = (await res.json()) as { import: { id: string; mapping: unknown; unmapped_columns: string[] } };
    expect(queued.mapping).toEqual([
      { field: 'email', column: 'E-Mail-Adresse' },
      { field: 'status', column: 'Zustand' },
    ]);
    expect(queued.unmapped_columns).toEqual([]);
    const previewed = await waitFor(async () => ((await (await api(`/api/v1/imports/${queued.id}`)).json()) as { import: any }).import, {
      until: (imp) => imp.status === 'previewed',
      timeout: 20_000,
      what: 'the preview',
    });
    expect(previewed.summary.messages).toContain('1 member unsubscribed at the source will be unsubscribed here.');
    const changes = await (await api(`/api/v1/imports/${queued.id}/changes`)).json();
    expect(changes).toEqual({
      changes: [{ email: 'cut2@example.com', member_id: expect.any(String), change: 'unsubscribed', detail: null }],
      next: null,
    });
    expect((await api(`/api/v1/imports/${queued.id}/changes?limit=0`)).status).toBe(400);
    expect((await api(`/api/v1/imports/${queued.id}/start`, { method: 'POST', body: '{"plans":{"x":{"tier":1}}}' })).status).toBe(400);
    const started = await api(`/api/v1/imports/${queued.id}/start`, {
      method: 'POST',
      body: JSON.stringify({ mapping: { 'E-Mail-Adresse': 'email', Zustand: 'status' } }),
    });
    expect(started.status).toBe(202);
    expect(await waitDone(queued.id)).toMatchObject({ status: 'done', updated: 2 });
    const cut2 = await t.db.selectFrom('members').select('status').where('email', '=', 'cut2@example.com').executeTakeFirstOrThrow();
    expect(cut2.status).toBe('unsubscribed');
    expect((await api(`/api/v1/imports/${queued.id}/start`, { method: 'POST', body: '{}' })).status).toBe(409);
  });
});
