import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemberSession } from '../../src/domain/membership/sessions.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { makePost, seedAudience } from '../helpers/sending.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Custom member fields against the real server: defining them (API, roles), values through the
 * members API with type checks (400 with the reason), the member's own account page, filters,
 * the CSV export's columns and an import's, and the webhook payload of a member.updated.
 */
let t: TestDatabase;
let server: RunningServer;
let owner: Record<string, string>;
let editor: Record<string, string>;
const memberIds: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  await seedAudience(t.db, 6);
  memberIds.push(...(await t.db.selectFrom('members').select('id').orderBy('id').execute()).map((m) => m.id));
  const headers = async (role: 'owner' | 'editor') => {
    const u = await createStaffUser(t.db, { email: `${role}@example.com`, password: 'a long staff password', role });
    return { authorization: `Bearer ${(await createApiToken(t.db, u.id, 'test')).token}`, 'content-type': 'application/json' };
  };
  owner = await headers('owner');
  editor = await headers('editor');
  server = await startServer({ databaseUrl: t.url, env: { WEBHOOKS_ALLOW_PRIVATE: '1' } });
});
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

const api = (path: string, init: RequestInit = {}, headers = owner) =>
  fetch(`${server.url}/api/v1${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
const post = (path: string, body: unknown, headers = owner) => api(path, { method: 'POST', body: JSON.stringify(body) }, headers);
const patch = (path: string, body: unknown) => api(path, { method: 'PATCH', body: JSON.stringify(body) });

describe('defining fields', () => {
  it('creates each type; editors read but may not define; bad definitions are 400/409', async () => {
    for (const f of [
      { key: 'city', label: 'City', type: 'choice', options: ['Paris', 'Lyon', 'Nantes'], member_editable: true },
      { key: 'age', label: 'Age', type: 'number', member_editable: true },
      { key: 'birthday', label: 'Birthday', type: 'date' },
      { key: 'quote_ok', label: 'Happy to be quoted', type: 'boolean', member_editable: true },
      { key: 'company', label: 'Company', type: 'text' },
    ]) {
      const res = await post('/fields', f);
      expect(res.status, await res.clone().text()).toBe(201);
    }
    expect((await post('/fields', { key: 'city', label: 'Again', type: 'text' })).status).toBe(409);
    expect((await post('/fields', { key: 'email', label: 'Email', type: 'text' })).status).toBe(400);
    expect((await post('/fields', { key: 'size', label: 'Size', type: 'choice' })).status).toBe(400);
    expect((await post('/fields', { key: 'x', label: 'X', type: 'colour' })).status).toBe(400);
    expect((await post('/fields', { key: 'hobby', label: 'Hobby', type: 'text' }, editor)).status).toBe(403);
    const list = (await (await api('/fields', {}, editor)).json()) as { fields: Array<{ key: string; type: string }> };
    expect(list.fields.map((f) => f.key)).toEqual(['city', 'age', 'birthday', 'quote_ok', 'company']);
  });
});

describe('values through the members API', () => {
  it('sets typed values on create and patch, and refuses a bad type with the reason', async () => {
    const created = await post('/members', { email: 'fielded@example.com', fields: { city: 'paris', age: '41', quote_ok: 'yes' } });
    expect(created.status, await created.clone().text()).toBe(201);
    const { member } = (await created.json()) as { member: { id: string; fields: Record<string, unknown> } };
    expect(member.fields).toEqual({ city: 'Paris', age: 41, quote_ok: true });

    for (const [fields, reason] of [
      [{ age: 'forty' }, /fields\.age must be a number/],
      [{ city: 'Berlin' }, /fields\.city must be one of Paris, Lyon, Nantes/],
      [{ birthday: '2026-02-30' }, /fields\.birthday must be a real date/],
      [{ quote_ok: 'maybe' }, /fields\.quote_ok must be true or false/],
      [{ shoe_size: 42 }, /There is no field "shoe_size"/],
    ] as const) {
      const res = await patch(`/members/${member.id}`, { fields });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(reason);
    }
    expect((await patch(`/members/${member.id}`, { fields: { age: [1] } })).status).toBe(400);
    // Nothing of a refused patch was written.
    const after = (await (await api(`/members/${member.id}`)).json()) as { member: { fields: Record<string, unknown> } };
    expect(after.member.fields).toEqual({ city: 'Paris', age: 41, quote_ok: true });

    const changed = await patch(`/members/${member.id}`, { fields: { age: null, birthday: '1990-05-17', company: 'Roastery' } });
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as { member: { fields: unknown } }).member.fields).toEqual({
      city: 'Paris',
      quote_ok: true,
      birthday: '1990-05-17',
      company: 'Roastery',
    });
  });

  it('filters members by a field value and by "is set", in the list and the count', async () => {
    await patch(`/members/${memberIds[0]}`, { fields: { city: 'Lyon', age: 30 } });
    await patch(`/members/${memberIds[1]}`, { fields: { city: 'Lyon' } });
    await patch(`/members/${memberIds[2]}`, { fields: { city: 'Nantes', age: 30 } });
    const emails = async (query: string) =>
      ((await (await api(`/members?${query}`)).json()) as { members: Array<{ id: string }> }).members.map((m) => m.id).sort();
    expect(await emails('field.city=Lyon')).toEqual([memberIds[0], memberIds[1]].sort());
    expect(await emails('field.age=30')).toEqual([memberIds[0], memberIds[2]].sort());
    expect(await emails('field.city=Lyon&field.age=30')).toEqual([memberIds[0]]);
    expect(await emails('field_set=age')).toHaveLength(2);
    const count = (await (await api('/members/count?field_set=city')).json()) as { count: number };
    expect(count.count).toBe(4); // three here and fielded@example.com
    expect((await api('/members?field.Bad-Key=1')).status).toBe(400);
  });

  it("narrows a send's segment by field conditions, refusing an unknown field or a value it cannot hold", async () => {
    const postId = await makePost(t.db);
    const count = async (fields: unknown) => {
      const res = await post('/sends/count', { post_id: postId, segment: { newsletters: ['weekly'], fields } });
      return { status: res.status, body: (await res.json()) as { count?: number; error?: { message: string } } };
    };
    expect((await count([{ key: 'city', equals: 'Lyon' }])).body.count).toBe(2);
    expect(
      (
        await count([
          { key: 'city', equals: 'lyon' },
          { key: 'age', set: true },
        ])
      ).body.count,
    ).toBe(1);
    expect((await count([{ key: 'age', equals: 30 }])).body.count).toBe(2);
    const unknown = await count([{ key: 'shoe', equals: '42' }]);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error!.message).toMatch(/no field "shoe"/);
    expect((await count([{ key: 'age', equals: 'old' }])).status).toBe(400);
  });
});

describe('the member account page', () => {
  it('shows the member-editable fields, saves them, and refuses a field members may not edit', async () => {
    const cookie = `hearth_member=${(await createMemberSession(t.db, memberIds[3]!)).token}`;
    const page = await fetch(`${server.url}/account`, { headers: { cookie } });
    const html = await page.text();
    expect(html).toContain('data-field-input="city"');
    expect(html).toContain('data-field-input="quote_ok"');
    expect(html).not.toContain('data-field-input="company"');
    const save = (form: Record<string, string>) =>
      fetch(`${server.url}/account`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, origin: server.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ action: 'fields', ...form }).toString(),
      });
    expect((await save({ 'field.city': 'Nantes', 'field.age': '27', 'field.quote_ok': 'no' })).status).toBe(200);
    const row = await t.db.selectFrom('members').select('fields').where('id', '=', memberIds[3]!).executeTakeFirstOrThrow();
    expect(row.fields).toEqual({ city: 'Nantes', age: 27, quote_ok: false });
    // A field not on the form (company: staff only) cannot be slipped in; a bad value is a 400.
    await save({ 'field.company': 'Sneaky' });
    expect((await save({ 'field.age': 'old' })).status).toBe(400);
    const again = await t.db.selectFrom('members').select('fields').where('id', '=', memberIds[3]!).executeTakeFirstOrThrow();
    expect(again.fields).toEqual({ city: 'Nantes', age: 27, quote_ok: false });
  });
});

describe('CSV export and import', () => {
  it('exports a column per field and imports a column whose header is a field key', async () => {
    const staff = await createStaffUser(t.db, { email: 'exporter@example.com', password: 'a long staff password', role: 'owner' });
    const { createStaffSession } = await import('../../src/domain/staff/sessions.ts');
    const cookie = `hearth_staff=${(await createStaffSession(t.db, staff.id)).token}`;
    const csv = await (await fetch(`${server.url}/admin/members/export.csv?field.city=Lyon`, { headers: { cookie } })).text();
    const [header, ...rows] = csv.trim().split('\n');
    expect(header!.endsWith(',city,age,birthday,quote_ok,company')).toBe(true);
    expect(rows).toHaveLength(2);
    expect(rows.some((r) => r.endsWith(',Lyon,30,,,'))).toBe(true);

    const form = new FormData();
    form.set(
      'file',
      new File(
        [
          'email,name,City,age,quote_ok\nnew1@example.com,New One,Paris,52,yes\nnew2@example.com,New Two,Atlantis,1,no\nreader1@example.com,,Nantes,,\n',
        ],
        'm.csv',
        { type: 'text/csv' },
      ),
    );
    form.set('newsletter', 'weekly');
    const started = await fetch(`${server.url}/api/v1/imports`, {
      method: 'POST',
      headers: { authorization: owner.authorization! },
      body: form,
    });
    expect(started.status, await started.clone().text()).toBe(202);
    const { import: imp } = (await started.json()) as { import: { id: string } };
    const done = await waitFor(
      async () => {
        const r = (await (await api(`/imports/${imp.id}`)).json()) as { import: { status: string; imported: number; rejected: number } };
        return r.import.status === 'done' || r.import.status === 'failed' ? r.import : undefined;
      },
      { timeout: 60_000 },
    );
    expect(done, JSON.stringify(done)).toMatchObject({ status: 'done', imported: 1, rejected: 1 });
    const one = await t.db.selectFrom('members').select('fields').where('email', '=', 'new1@example.com').executeTakeFirstOrThrow();
    expect(one.fields).toEqual({ city: 'Paris', age: 52, quote_ok: true });
    const reason = await t.db.selectFrom('import_rejections').select('reason').where('import_id', '=', imp.id).executeTakeFirstOrThrow();
    expect(reason.reason).toMatch(/fields\.city must be one of/);
    // An existing member keeps the values they have (reader1 has city Lyon).
    const kept = await t.db.selectFrom('members').select('fields').where('email', '=', 'reader1@example.com').executeTakeFirstOrThrow();
    expect(kept.fields).toMatchObject({ city: 'Lyon', age: 30 });
  });
});

describe('webhooks', () => {
  it("carries the member's fields in member.updated", async () => {
    const res = await post('/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['member.updated'] });
    expect(res.status, await res.clone().text()).toBe(201);
    await patch(`/members/${memberIds[4]}`, { fields: { company: 'Hearth & Co' } });
    const delivery = await t.db
      .selectFrom('webhook_deliveries')
      .select('payload')
      .where('event_type', '=', 'member.updated')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect((delivery.payload as { data: { id: string; fields: unknown } }).data).toMatchObject({
      id: memberIds[4],
      fields: { company: 'Hearth & Co' },
    });
  });
});
