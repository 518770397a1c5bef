import { availableParallelism } from 'node:os';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bulkMerge, capIndexBuildWorkers, validateBulkKeys } from '../../src/domain/imports/merge.ts';
import { createImport, getImport, runImport, startImport, type ImportRecord } from '../../src/domain/imports/pipeline.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

// The bulk merge (a first import into a nearly empty site builds the indexes and checks the keys
// once at the end) needs 50,000 new members in production; here it is lowered so that small files
// take that path, and compared with the ordinary merge of the same file.
const threshold = bulkMerge.minNewMembers;
let t: TestDatabase;
beforeEach(async () => {
  bulkMerge.minNewMembers = 3;
  t = await createTestDatabase();
  await seedSite(t);
});
afterEach(async () => {
  bulkMerge.minNewMembers = threshold;
  await t.drop();
});

async function seedSite(d: TestDatabase) {
  await d.db
    .insertInto('newsletters')
    .values([
      { slug: 'weekly', name: 'The Weekly', is_default: true, sort_order: 0 },
      { slug: 'dispatch', name: 'The Dispatch', sort_order: 1 },
    ])
    .execute();
  await d.db.insertInto('tiers').values({ slug: 'gold', name: 'Gold', paid: true, currency: 'usd', monthly_amount: 500 }).execute();
}

const FILE = [
  'email,name,status,labels,created_at,notes,plan,stripe_customer_id',
  'ana@example.com,Ana,subscribed,"vip, early",2021-03-04T05:06:07Z,likes cats,,',
  'ben@example.com,Ben,unsubscribed,,2020-01-01T00:00:00Z,,,',
  'ANA@example.com,Ana again,subscribed,,,,,',
  'chloé@bücher.de,Chloé,subscribed,early,,,gold,cus_A1',
  'dmitri@example.com,,bounced,,,,,',
  'eve@example.com,Eve,subscribed,VIP,,"two\nlines",,',
  'not an address,x,subscribed,,,,,',
].join('\n');

async function importFile(d: TestDatabase, body: string, options: { sendConfirmation?: boolean } = {}): Promise<ImportRecord> {
  const created = await createImport(d.db, {
    filename: 'members.csv',
    body: (async function* () {
      yield Buffer.from(body);
    })(),
  });
  await startImport(d.db, created.id, { plans: { gold: { tier: 'gold', access: 'paid' } }, ...options });
  await runImport(d.db, d.pool, created.id);
  return getImport(d.db, created.id);
}

/** Every index and constraint of the tables the bulk merge touches, with its object id. */
async function schema(d: TestDatabase) {
  const rows = await sql<{ name: string; definition: string; oid: number; valid: boolean }>`
    select c.relname as name, pg_get_indexdef(i.indexrelid) as definition, i.indexrelid::int as oid, i.indisvalid as valid
    from pg_index i join pg_class c on c.oid = i.indexrelid
    where i.indrelid in ('members'::regclass, 'member_newsletters'::regclass, 'member_labels'::regclass)
    union all
    select k.conname, pg_get_constraintdef(k.oid), k.oid::int, k.convalidated
    from pg_constraint k
    where k.conrelid in ('members'::regclass, 'member_newsletters'::regclass, 'member_labels'::regclass)
    order by 1, 2`.execute(d.db);
  return rows.rows;
}
const validationJobs = async (d: TestDatabase) =>
  Number(
    (await sql<{ n: string }>`select count(*) as n from graphile_worker.jobs where task_identifier = 'import_validate_keys'`.execute(d.db))
      .rows[0]!.n,
  );
const shape = (rows: Awaited<ReturnType<typeof schema>>) => rows.map(({ name, definition, valid }) => ({ name, definition, valid }));

async function snapshot(d: TestDatabase) {
  return (
    await sql<Record<string, unknown>>`
      select m.email, m.name, m.status, t.slug as tier, m.tier_source, m.stripe_customer_id, m.notes,
             case when m.created_at < now() - interval '1 day' then m.created_at end as source_created_at, m.source_platform,
             m.confirmed_at is not null as confirmed, length(m.referral_code) as code_length, m.import_id is not null as imported,
             (select string_agg(n.slug, ',' order by n.slug) from member_newsletters mn join newsletters n on n.id = mn.newsletter_id where mn.member_id = m.id) as newsletters,
             (select string_agg(l.name, ',' order by l.name) from member_labels ml join labels l on l.id = ml.label_id where ml.member_id = m.id) as labels
      from members m join tiers t on t.id = m.tier_id
      order by m.id`.execute(d.db)
  ).rows;
}

async function facets(db: TestDatabase) {
  return (
    await sql<{ newsletter_id: string; status: string; source_platform: string; tier_id: string; members: number }>`
      select newsletter_id, status, source_platform, tier_id, members::int from member_facets where members <> 0 order by 1, 2, 3, 4`.execute(
      db.db,
    )
  ).rows;
}

describe('bulk merge of a first import', () => {
  it('writes exactly what the ordinary merge writes, and puts every index and key back as it was', async () => {
    const before = await schema(t);
    const done = await importFile(t, FILE);
    expect(done).toMatchObject({ status: 'done', imported: 5, updated: 0, rejected: 2 });
    // The foreign keys are back NOT VALID (already enforced), and a job validates them.
    const foreign = (rows: Awaited<ReturnType<typeof schema>>) =>
      rows.filter((r) => r.definition.startsWith('FOREIGN KEY')).map((r) => ({ name: r.name, valid: r.valid }));
    const keys = foreign(before).map((k) => k.name);
    expect(keys).toEqual(
      expect.arrayContaining(['member_newsletters_member_id_fkey', 'member_labels_member_id_fkey', 'members_tier_id_fkey']),
    );
    expect(foreign(await schema(t))).toEqual(keys.map((name) => ({ name, valid: false })));
    await expect(sql`insert into member_labels (member_id, label_id) values (999999, 1)`.execute(t.db)).rejects.toThrow(/foreign key/);
    expect(await validationJobs(t)).toBe(1);
    expect(await validateBulkKeys(t.db)).toBe(keys.length);
    expect(await validateBulkKeys(t.db)).toBe(0);
    const after = await schema(t);
    // Rebuilt: the same definitions, valid, under new object ids (members' primary key kept).
    expect(shape(after)).toEqual(shape(before));
    const rebuilt = after
      .filter((a) => before.find((b) => b.name === a.name && b.definition === a.definition)!.oid !== a.oid)
      .map((a) => a.name);
    expect(rebuilt).toContain('members_email_key');
    expect(rebuilt).toContain('members_referral_code_key');
    expect(rebuilt).toContain('member_newsletters_member_id_fkey');
    expect(rebuilt).toContain('member_labels_pkey');
    expect(rebuilt).toContain('member_newsletters_pkey');
    expect(rebuilt).not.toContain('members_pkey');

    const ordinary = await createTestDatabase();
    try {
      await seedSite(ordinary);
      bulkMerge.minNewMembers = 1_000_000;
      const oldSchema = await schema(ordinary);
      expect(await importFile(ordinary, FILE)).toMatchObject({ status: 'done', imported: 5, updated: 0, rejected: 2 });
      expect(await schema(ordinary)).toEqual(oldSchema);
      expect(await snapshot(t)).toEqual(await snapshot(ordinary));
      // The facet counts the members list reads (0057), added by one statement instead of triggers.
      expect(await facets(t)).toEqual(await facets(ordinary));
      expect((await facets(t)).length).toBeGreaterThan(0);
    } finally {
      await ordinary.drop();
    }
    const rows = await snapshot(t);
    expect(rows.map((r) => r.email)).toEqual([
      'ana@example.com',
      'ben@example.com',
      'chloé@xn--bcher-kva.de',
      'dmitri@example.com',
      'eve@example.com',
    ]);
    expect(rows[0]).toMatchObject({ labels: 'early,vip', newsletters: 'weekly', status: 'pending' });
    expect(rows[3]).toMatchObject({ status: 'bounced', newsletters: null });

    // The unique keys and foreign keys hold again.
    await expect(
      sql`insert into members (email, tier_id, referral_code) values ('Ana@Example.com', 1, 'x1')`.execute(t.db),
    ).rejects.toThrow(/members_email_key/);
    await expect(
      sql`insert into members (email, tier_id, referral_code) values ('z@example.com', 1, 'x3'), ('y@example.com', 1, 'x3')`.execute(t.db),
    ).rejects.toThrow(/members_referral_code_key/);
    await expect(sql`insert into member_newsletters (member_id, newsletter_id) values (999999, 1)`.execute(t.db)).rejects.toThrow(
      /foreign key/,
    );
    await expect(
      sql`insert into member_newsletters (member_id, newsletter_id) select member_id, newsletter_id from member_newsletters limit 1`.execute(
        t.db,
      ),
    ).rejects.toThrow(/member_newsletters_pkey/);
    await expect(
      sql`insert into member_labels (member_id, label_id) select member_id, label_id from member_labels limit 1`.execute(t.db),
    ).rejects.toThrow(/member_labels_pkey/);
  });

  it("writes what the ordinary merge writes for Hearth's own export, each member with the newsletters it names", async () => {
    const own = [
      'email,name,status,tier,access,newsletters,labels,platform,referral_code,created_at',
      'ana@example.com,Ana,active,,,weekly dispatch,vip,instagram,anacode1234,2021-03-04T05:06:07Z',
      'ben@example.com,Ben,active,,,dispatch,,tiktok,,2022-01-01T00:00:00Z',
      'cy@example.com,Cy,unsubscribed,,,,,import,,',
      'di@example.com,Di,pending,,,weekly,early,,,',
    ].join('\n');
    expect(await importFile(t, own)).toMatchObject({ status: 'done', imported: 4 });
    const ordinary = await createTestDatabase();
    try {
      await seedSite(ordinary);
      bulkMerge.minNewMembers = 1_000_000;
      expect(await importFile(ordinary, own)).toMatchObject({ status: 'done', imported: 4 });
      expect(await snapshot(t)).toEqual(await snapshot(ordinary));
      expect(await facets(t)).toEqual(await facets(ordinary));
    } finally {
      await ordinary.drop();
    }
    expect((await snapshot(t)).map((r) => [r.email, r.newsletters])).toEqual([
      ['ana@example.com', 'dispatch,weekly'],
      ['ben@example.com', 'dispatch'],
      ['cy@example.com', null],
      ['di@example.com', 'weekly'],
    ]);
  });

  it('queues confirmation emails when new members are pending, and not when none is', async () => {
    const confirmationJobs = async (d: TestDatabase) =>
      Number(
        (
          await sql<{ n: string }>`select count(*) as n from graphile_worker.jobs where task_identifier = 'import_confirmations'`.execute(
            d.db,
          )
        ).rows[0]!.n,
      );
    const left = ['email,status', 'a@example.com,unsubscribed', 'b@example.com,bounced', 'c@example.com,unsubscribed'].join('\n');
    expect(await importFile(t, left, { sendConfirmation: true })).toMatchObject({ status: 'done', imported: 3 });
    expect(await confirmationJobs(t)).toBe(0);
    const other = await createTestDatabase();
    try {
      await seedSite(other);
      // Three of the five new members are pending (subscribed at the source, not yet confirmed here).
      expect(await importFile(other, FILE, { sendConfirmation: true })).toMatchObject({ status: 'done', imported: 5 });
      expect(await confirmationJobs(other)).toBe(1);
    } finally {
      await other.drop();
    }
  });

  it('puts the facet triggers back, gives new members ids in file order from one block, and a preview draws none', async () => {
    const triggers = async (d: TestDatabase) =>
      (
        await sql<{ name: string; definition: string; enabled: string }>`
          select t.tgname as name, pg_get_triggerdef(t.oid) as definition, t.tgenabled as enabled from pg_trigger t
          where t.tgrelid in ('members'::regclass, 'member_newsletters'::regclass) and not t.tgisinternal order by 1`.execute(d.db)
      ).rows;
    const lastId = async () => Number((await sql<{ n: string }>`select last_value as n from members_id_seq`.execute(t.db)).rows[0]!.n);
    const before = await triggers(t);
    expect(before.map((r) => r.name)).toEqual(expect.arrayContaining(['member_facets_insert', 'member_facets_subscribe']));

    // A preview writes no member: it draws nothing from the sequence.
    const previewed = await createImport(t.db, {
      filename: 'members.csv',
      body: (async function* () {
        yield Buffer.from(FILE);
      })(),
    });
    const idsBefore = await lastId();
    await startImport(t.db, previewed.id, { plans: { gold: { tier: 'gold', access: 'paid' } }, preview: true });
    await runImport(t.db, t.pool, previewed.id);
    expect(await getImport(t.db, previewed.id)).toMatchObject({ status: 'previewed' });
    expect(await lastId()).toBe(idsBefore);

    expect(await importFile(t, FILE)).toMatchObject({ status: 'done', imported: 5 });
    expect(await triggers(t)).toEqual(before);
    const ids = (await sql<{ id: string; email: string }>`select id, email from members order by id`.execute(t.db)).rows;
    expect(ids.map((r) => r.email)).toEqual([
      'ana@example.com',
      'ben@example.com',
      'chloé@xn--bcher-kva.de',
      'dmitri@example.com',
      'eve@example.com',
    ]);
    // The sequence moved past the block: the next member's id is new, and the triggers count them again.
    const facetTotal = async () =>
      Number(
        (await sql<{ n: string }>`select coalesce(sum(members), 0) as n from member_facets where newsletter_id = 0`.execute(t.db)).rows[0]!
          .n,
      );
    const counted = await facetTotal();
    const added = await sql<{ id: string }>`
      insert into members (email, tier_id, referral_code) values ('late@example.com', (select id from tiers where slug = 'free'), 'late1') returning id`.execute(
      t.db,
    );
    expect(Number(added.rows[0]!.id)).toBeGreaterThan(Math.max(...ids.map((r) => Number(r.id))));
    expect(await facetTotal()).toBe(counted + 1);
  });

  it.each([
    ['bulk', 3],
    ['ordinary', 1_000_000],
  ])('gives new members the codes staging drew, and draws its own when two collide (%s merge)', async (_, minNewMembers) => {
    bulkMerge.minNewMembers = minNewMembers;
    const options = { plans: { gold: { tier: 'gold', access: 'paid' as const } } };
    const stageOnly = async () => {
      const created = await createImport(t.db, {
        filename: 'members.csv',
        body: (async function* () {
          yield Buffer.from(FILE);
        })(),
      });
      await startImport(t.db, created.id, { ...options, preview: true });
      await runImport(t.db, t.pool, created.id);
      return created.id;
    };
    const drawn = async (id: string) =>
      (await sql<{ email: string; code: string }>`select email, drawn_code as code from import_rows where import_id = ${id}`.execute(t.db))
        .rows;
    const codes = async () =>
      new Map(
        (await sql<{ email: string; code: string }>`select email, referral_code as code from members`.execute(t.db)).rows.map((r) => [
          r.email,
          r.code,
        ]),
      );

    const first = await stageOnly();
    const staged = await drawn(first);
    expect(staged).toHaveLength(6);
    for (const row of staged) expect(row.code).toMatch(/^[2-9a-fyz]{16}$/);
    expect(new Set(staged.map((r) => r.code)).size).toBe(6);
    await startImport(t.db, first, options);
    await runImport(t.db, t.pool, first);
    expect(await getImport(t.db, first)).toMatchObject({ status: 'done', imported: 5 });
    const given = await codes();
    // Each new member has the code of the address's first row.
    for (const row of staged.filter((r, i) => staged.findIndex((o) => o.email === r.email) === i))
      expect(given.get(row.email)).toBe(row.code);

    // Every staged row of a second file draws the same code: the merge fails on the unique key,
    // runs again with codes of its own, and imports every row once.
    await sql`delete from member_newsletters; delete from member_labels; delete from members`.execute(t.db);
    const second = await stageOnly();
    await sql`update import_rows set drawn_code = 'yyyyyyyyyyyyyyyy' where import_id = ${second}`.execute(t.db);
    await startImport(t.db, second, options);
    await runImport(t.db, t.pool, second);
    expect(await getImport(t.db, second)).toMatchObject({ status: 'done', imported: 5 });
    const redrawn = [...(await codes()).values()];
    expect(redrawn).toHaveLength(5);
    expect(new Set(redrawn).size).toBe(5);
    expect(redrawn).not.toContain('yyyyyyyyyyyyyyyy');
    for (const code of redrawn) expect(code).toMatch(/^[2-9a-fyz]{16}$/);
  });

  it('is not used once the site has members (a re-import, or a file smaller than twice the members)', async () => {
    await importFile(t, FILE);
    const before = await schema(t);
    const again = await importFile(t, FILE);
    expect(again).toMatchObject({ status: 'done', imported: 0, updated: 5 });
    expect(await schema(t)).toEqual(before);
  });

  it('runs again before the keys of the last one are validated, and one validation then validates them', async () => {
    const before = await schema(t);
    await importFile(t, FILE);
    const firstKeys = (await schema(t)).filter((r) => r.definition.startsWith('FOREIGN KEY'));
    // 12 new addresses against 5 members: a bulk merge again, over keys still NOT VALID.
    const more = ['email,name', ...Array.from({ length: 12 }, (_, i) => `more${i}@example.com,More ${i}`)].join('\n');
    expect(await importFile(t, more)).toMatchObject({ status: 'done', imported: 12, rejected: 0 });
    // Dropped and added again (new object ids), still NOT VALID, under the same definitions.
    const secondKeys = (await schema(t)).filter((r) => r.definition.startsWith('FOREIGN KEY'));
    expect(shape(secondKeys)).toEqual(shape(firstKeys));
    expect(secondKeys.every((k) => !k.valid && !firstKeys.some((f) => f.oid === k.oid))).toBe(true);
    expect(await validationJobs(t)).toBe(1);
    await validateBulkKeys(t.db);
    expect(shape(await schema(t))).toEqual(shape(before));
    expect(Number((await sql<{ n: string }>`select count(*) as n from member_newsletters`.execute(t.db)).rows[0]!.n)).toBe(15);
  });

  it('builds indexes with no more helpers than this machine has cores besides the session, on a database on this machine', async () => {
    const setting = async () =>
      Number((await sql<{ n: string }>`select current_setting('max_parallel_maintenance_workers') as n`.execute(t.db)).rows[0]!.n);
    const configured = await setting();
    const inTransaction = await t.db.transaction().execute(async (trx) => {
      await capIndexBuildWorkers(trx);
      return Number((await sql<{ n: string }>`select current_setting('max_parallel_maintenance_workers') as n`.execute(trx)).rows[0]!.n);
    });
    // The tests' database is on this machine (embedded, or on 127.0.0.1).
    expect(inTransaction).toBe(Math.min(configured, availableParallelism() - 1));
    // Only for that transaction.
    expect(await setting()).toBe(configured);
  });

  it('falls back to the ordinary merge when a reader holds the tables, and imports all the same', async () => {
    const before = await schema(t);
    const reader = new pg.Client({ connectionString: t.url });
    await reader.connect();
    try {
      await reader.query('begin');
      await reader.query('select count(*) from members');
      const done = await importFile(t, FILE);
      expect(done).toMatchObject({ status: 'done', imported: 5, rejected: 2 });
      // Waited 2 s for the lock, then merged without dropping anything.
      expect(await schema(t)).toEqual(before);
    } finally {
      await reader.query('rollback').catch(() => undefined);
      await reader.end();
    }
  });
});
