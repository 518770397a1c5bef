import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

/**
 * Property tests: arbitrary input at /subscribe and the members API never gets a 500, and a
 * refused request writes nothing.
 */
let t: TestDatabase;
let server: RunningServer;
let auth: Record<string, string>;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 20 });
  const owner = await createStaffUser(t.db, { email: 'owner@example.com', password: 'a long owner password', role: 'owner' });
  auth = { authorization: `Bearer ${(await createApiToken(t.db, owner.id, 'fuzz')).token}` };
  server = await startServer({ databaseUrl: t.url });
});
afterAll(async () => {
  await server?.stop();
  await t.drop();
});

const memberCount = async () =>
  Number(
    (
      await t.db
        .selectFrom('members')
        .select(sql<string>`count(*)`.as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

/** Strings people and bots actually send: unicode, control and bidi characters, long runs, near-addresses. */
const nasty = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    'a@b',
    'a@b.c',
    'ann@example.com',
    'ANN@EXAMPLE.COM',
    '"x"@example.com',
    'x@exa mple.com',
    '\u202eann@example.com',
    'a'.repeat(300) + '@example.com',
    '<script>@x.io',
    'weekly-brew',
    '../../etc/passwd',
  ),
  fc.emailAddress(),
);
const fieldValue = fc.oneof(nasty, fc.array(nasty, { maxLength: 4 }));
const fields = fc.dictionary(
  fc.constantFrom(
    'email',
    'name',
    'newsletter',
    'newsletters',
    'ref',
    'utm_source',
    'utm_medium',
    'utm_campaign',
    'referrer',
    'platform',
    'landing_page',
    'website',
    'embed',
    'x',
  ),
  fieldValue,
  { maxKeys: 8 },
);

describe('POST /subscribe under arbitrary input', () => {
  it('answers 202/303 or a clear 4xx, never a 500, by form and by JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fields, fc.boolean(), async (input, asJson) => {
        await t.db.deleteFrom('rate_limits').execute();
        let body: string;
        let type: string;
        if (asJson) {
          body = JSON.stringify(input);
          type = 'application/json';
        } else {
          const p = new URLSearchParams();
          for (const [k, v] of Object.entries(input)) for (const x of [v].flat()) p.append(k, x);
          body = p.toString();
          type = 'application/x-www-form-urlencoded';
        }
        const before = await memberCount();
        const res = await fetch(server.url + '/subscribe', { method: 'POST', body, headers: { 'content-type': type }, redirect: 'manual' });
        expect([202, 303, 400, 429]).toContain(res.status);
        if (res.status >= 400) expect(await memberCount()).toBe(before);
      }),
      { numRuns: 80 },
    );
  });
});

describe('the members API under arbitrary input', () => {
  const json = fc.jsonValue({ maxDepth: 2 });
  const memberish = fc.record(
    {
      email: fc.oneof(nasty, json),
      name: fc.oneof(nasty, json),
      newsletters: fc.oneof(fc.array(nasty, { maxLength: 3 }), json),
      labels: fc.oneof(fc.array(nasty, { maxLength: 3 }), json),
      status: fc.oneof(nasty, json),
      tier: fc.oneof(nasty, json),
    },
    { requiredKeys: [] },
  );

  it('POST /api/v1/members: 201 or a 4xx with the error shape, and nothing written on refusal', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(memberish, json), async (body) => {
        const before = await memberCount();
        const res = await fetch(server.url + '/api/v1/members', {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { ...auth, 'content-type': 'application/json' },
        });
        expect([201, 400, 409]).toContain(res.status);
        if (res.status !== 201) {
          expect(await res.json()).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
          expect(await memberCount()).toBe(before);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('PATCH /api/v1/members/:id: 200 or a 4xx, never a 500', async () => {
    const { id } = await t.db.selectFrom('members').select('id').limit(1).executeTakeFirstOrThrow();
    await fc.assert(
      fc.asyncProperty(fc.oneof(memberish, json), fc.constantFrom(id, '999999999'), async (body, target) => {
        const res = await fetch(`${server.url}/api/v1/members/${target}`, {
          method: 'PATCH',
          body: JSON.stringify(body),
          headers: { ...auth, 'content-type': 'application/json' },
        });
        expect([200, 400, 404, 409]).toContain(res.status);
      }),
      { numRuns: 60 },
    );
  });

  it('GET /api/v1/members with arbitrary filters: 200 or 400', async () => {
    const params = fc.dictionary(
      fc.constantFrom('query', 'status', 'newsletter', 'tier', 'label', 'platform', 'created_from', 'created_to', 'limit', 'after'),
      nasty,
      { maxKeys: 5 },
    );
    await fc.assert(
      fc.asyncProperty(params, async (p) => {
        const res = await fetch(`${server.url}/api/v1/members?${new URLSearchParams(p)}`, { headers: auth });
        expect([200, 400]).toContain(res.status);
        const count = await fetch(`${server.url}/api/v1/members/count?${new URLSearchParams(p)}`, { headers: auth });
        expect([200, 400]).toContain(count.status);
      }),
      { numRuns: 80 },
    );
  });
});
