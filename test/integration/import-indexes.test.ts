import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

// Migration 0058: the two member indexes a first import pays most for, made cheaper without
// changing what they answer.
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const ADDRESSES = [
  'ana@example.com',
  'ÖMIL@gmail.com',
  'info@bücher.de',
  'a\\b@example.com',
  'x\\\\y\\@e.com',
  '日本@例え.jp',
  'tab\there@x.io',
  '',
];

describe('email_hash after 0058', () => {
  it('gives the SHA-256 of the lower-case UTF-8 address, as before (suppressions stay valid)', async () => {
    for (const address of ADDRESSES) {
      const row = await sql<{ now: string; before: string }>`
        select email_hash(${address}) as now, encode(sha256(convert_to(lower(${address}), 'UTF8')), 'hex') as before`.execute(t.db);
      expect(row.rows[0]!.now).toBe(row.rows[0]!.before);
      if (/^[\x00-\x7f]*$/.test(address)) expect(row.rows[0]!.now).toBe(createHash('sha256').update(address.toLowerCase()).digest('hex'));
    }
  });

  it('is inlined (no SQL-function call per row) and still finds members through members_email_hash_idx', async () => {
    const plan = await sql<{ 'QUERY PLAN': string }>`explain (verbose, costs off) select email_hash(email) from members`.execute(t.db);
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/sha256/);
    await sql`set enable_seqscan = off`.execute(t.db);
    const lookup = await sql<{ 'QUERY PLAN': string }>`
      explain (costs off) select id from members where email_hash(email) = ${'0'.repeat(64)}`.execute(t.db);
    expect(lookup.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/members_email_hash_idx/);
  });
});

describe('referral codes after 0058', () => {
  it('are compared bytewise ("C") and still unique', async () => {
    const collation = await sql<{ collation: string }>`
      select collation_name as collation from information_schema.columns where table_name = 'members' and column_name = 'referral_code'`.execute(
      t.db,
    );
    expect(collation.rows[0]!.collation).toBe('C');
    const tier = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'free').executeTakeFirstOrThrow();
    await t.db.insertInto('members').values({ email: 'one@example.com', tier_id: tier.id, referral_code: 'abc123' }).execute();
    await expect(
      t.db.insertInto('members').values({ email: 'two@example.com', tier_id: tier.id, referral_code: 'abc123' }).execute(),
    ).rejects.toThrow(/members_referral_code_key/);
    const found = await t.db.selectFrom('members').select('email').where('referral_code', '=', 'abc123').execute();
    expect(found).toEqual([{ email: 'one@example.com' }]);
  });
});
