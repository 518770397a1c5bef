import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { countMembers, MEMBER_STATUSES, type MemberFilter } from '../../src/domain/members/list.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Counts of newsletter/status/platform/tier combinations come from member_facets (kept by
 * triggers, migration 0057): after every kind of write they must equal a count of the members.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedDemo(t.db, { members: 300 });
});
afterAll(async () => t?.drop());

/** The same filter counted from the members themselves (a created_from far back sends countMembers past the facets). */
const direct = (filter: MemberFilter) => countMembers(t.db, { ...filter, createdFrom: new Date(0) });

async function expectFacetsAgree(): Promise<void> {
  const filters: MemberFilter[] = [{}];
  for (const newsletter of [undefined, 'weekly-brew', 'roastery-dispatch', 'no-such-newsletter'])
    for (const status of [undefined, ...MEMBER_STATUSES])
      for (const platform of [undefined, 'instagram', 'tiktok'])
        for (const tier of [undefined, 'free', 'supporter']) filters.push({ newsletter, status, platform, tier });
  for (const filter of filters) expect([filter, await countMembers(t.db, filter)]).toEqual([filter, await direct(filter)]);
}

describe('member facets', () => {
  it('agree with the members after the demo seed (a bulk insert with its subscriptions)', async () => {
    expect(await countMembers(t.db, { newsletter: 'weekly-brew', status: 'active' })).toBeGreaterThan(0);
    await expectFacetsAgree();
  });

  it('follow status, platform and tier changes, subscriptions, unsubscriptions, moves and deletes', async () => {
    const ids = (await t.db.selectFrom('members').select('id').orderBy('id').limit(40).execute()).map((r) => r.id);
    const supporter = await t.db.selectFrom('tiers').select('id').where('slug', '=', 'supporter').executeTakeFirstOrThrow();
    const dispatch = await t.db.selectFrom('newsletters').select('id').where('slug', '=', 'roastery-dispatch').executeTakeFirstOrThrow();
    const weekly = await t.db.selectFrom('newsletters').select('id').where('slug', '=', 'weekly-brew').executeTakeFirstOrThrow();
    await t.db.updateTable('members').set({ status: 'unsubscribed' }).where('id', 'in', ids.slice(0, 10)).execute();
    await t.db
      .updateTable('members')
      .set({ source_platform: 'tiktok', tier_id: supporter.id })
      .where('id', 'in', ids.slice(5, 15))
      .execute();
    await t.db.updateTable('members').set({ notes: 'no facet changes' }).where('id', 'in', ids).execute();
    await t.db.deleteFrom('member_newsletters').where('member_id', 'in', ids.slice(10, 20)).execute();
    await sql`insert into member_newsletters (member_id, newsletter_id) select id, ${dispatch.id}::bigint from members where id = any(${ids.slice(15, 25)}::bigint[]) on conflict do nothing`.execute(
      t.db,
    );
    await t.db
      .updateTable('member_newsletters')
      .set({ newsletter_id: dispatch.id })
      .where('newsletter_id', '=', weekly.id)
      .where('member_id', 'in', ids.slice(30, 32))
      .where('member_id', 'not in', (eb) =>
        eb.selectFrom('member_newsletters').select('member_id').where('newsletter_id', '=', dispatch.id),
      )
      .execute();
    await t.db.deleteFrom('members').where('id', 'in', ids.slice(20, 30)).execute();
    await t.db.transaction().execute(async (trx) => {
      await trx.updateTable('members').set({ status: 'bounced' }).where('id', '=', ids[35]!).execute();
      await trx.deleteFrom('member_newsletters').where('member_id', '=', ids[35]!).execute();
    });
    await expectFacetsAgree();
  });
});
