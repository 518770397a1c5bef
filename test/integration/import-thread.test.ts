import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createImport, getImport, rejectionsCsv, runImport, startImport, type ImportRecord } from '../../src/domain/imports/pipeline.ts';
import { bulkMerge } from '../../src/domain/imports/merge.ts';
import { staging } from '../../src/domain/imports/run.ts';
import { copyDate, rowBatch } from '../../src/domain/imports/stage.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

// Large files are staged by a worker thread with its own connections (stage-worker.ts); here every
// file is, and the result must be what staging in the run's own session gives.
const threshold = staging.threadBytes;
let t: TestDatabase;
beforeEach(async () => {
  t = await createTestDatabase();
  await t.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
  await t.db.insertInto('member_fields').values({ key: 'city', label: 'City', type: 'text' }).execute();
});
afterEach(async () => {
  staging.threadBytes = threshold;
  await t.drop();
});

const FILE = [
  'email,name,status,labels,created_at,notes,city',
  'ana@example.com,Ana,subscribed,"vip, early",2021-03-04T05:06:07Z,likes cats,Lyon',
  'ben@example.com,Ben,unsubscribed,,2020-01-01T00:00:00Z,,',
  'ANA@example.com,Ana again,subscribed,,,,',
  'chloé@bücher.de,Chloé,subscribed,early,,"tab\there",Köln',
  'eve@example.com,Eve,subscribed,VIP,,"two\nlines",',
  'not an address,x,subscribed,,,,',
].join('\n');

async function importFile(d: TestDatabase, body: string, threadBytes: number): Promise<ImportRecord> {
  staging.threadBytes = threadBytes;
  const created = await createImport(d.db, {
    filename: 'members.csv',
    body: (async function* () {
      yield Buffer.from(body);
    })(),
  });
  await startImport(d.db, created.id, {});
  await runImport(d.db, d.pool, created.id);
  return getImport(d.db, created.id);
}

async function snapshot(d: TestDatabase) {
  return (
    await sql<Record<string, unknown>>`
      select m.email, m.name, m.status, m.notes, m.fields, m.created_at < now() - interval '1 day' as dated,
             (select string_agg(l.name, ',' order by l.name) from member_labels ml join labels l on l.id = ml.label_id where ml.member_id = m.id) as labels
      from members m order by m.id`.execute(d.db)
  ).rows;
}

async function report(d: TestDatabase, id: string): Promise<string> {
  let out = '';
  for await (const line of await rejectionsCsv(d.db, id)) out += line;
  return out;
}

describe('staging in a worker thread', () => {
  it('stages exactly what the run stages in its own session', async () => {
    const threaded = await importFile(t, FILE, 0);
    expect(threaded).toMatchObject({ status: 'done', rows: 6, imported: 4, updated: 0, rejected: 2 });
    expect(Number(threaded.bytes_done)).toBe(Buffer.byteLength(FILE));

    const inline = await createTestDatabase();
    try {
      await inline.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
      await inline.db.insertInto('member_fields').values({ key: 'city', label: 'City', type: 'text' }).execute();
      const done = await importFile(inline, FILE, Number.MAX_SAFE_INTEGER);
      expect(done).toMatchObject({ status: 'done', rows: 6, imported: 4, rejected: 2 });
      expect(await snapshot(t)).toEqual(await snapshot(inline));
      expect(await report(t, threaded.id)).toBe(await report(inline, done.id));
    } finally {
      await inline.drop();
    }
    const rows = await snapshot(t);
    expect(rows[0]).toMatchObject({ email: 'ana@example.com', fields: { city: 'Lyon' }, labels: 'early,vip', dated: true });
    expect(rows[2]).toMatchObject({ email: 'chloé@xn--bcher-kva.de', fields: { city: 'Köln' } });
    expect(await report(t, threaded.id)).toMatch(/^row,email,reason\n4,ana@example.com,duplicate of row 2\n7,/);
  });

  it('stages rows across batch ends and a row longer than a batch, multi-byte text intact, in both modes', async () => {
    // Staged rows are written as UTF-8 into reused buffers: a row that might not fit closes the
    // batch, and one longer than a batch is written alone. In the run's session the batch is
    // lowered to 8 KiB, so a 5,000-character note of 2- and 3-byte characters (12.5 KB) is written alone.
    const long = '€é'.repeat(2500);
    const rows = Array.from({ length: 3000 }, (_, i) => `r${i}@example.com,Rö ${i},${i % 7 === 0 ? long : `${'ü€'.repeat(20)} ${i}`}`);
    const body = `email,name,note,subscribed_to_emails\n${rows.map((r) => `${r},true`).join('\n')}\n`;
    // Ghost's members export: note is its notes column.
    const expected = rows.reduce((n, line) => n + line.slice(line.indexOf(',', line.indexOf(',') + 1) + 1).length, 0);
    const check = async (d: TestDatabase) =>
      (
        await sql<{ n: string; sum: string; longs: string; last: string }>`
          select count(*) as n, sum(length(notes)) as sum, count(*) filter (where notes = ${long}) as longs,
                 (select name from members where email = 'r2999@example.com') as last
          from members`.execute(d.db)
      ).rows[0];
    const threaded = await importFile(t, body, 0);
    expect(threaded).toMatchObject({ status: 'done', rows: 3000, imported: 3000, rejected: 0 });
    expect(await check(t)).toEqual({ n: '3000', sum: String(expected), longs: '429', last: 'Rö 2999' });

    const inline = await createTestDatabase();
    const size = rowBatch.bytes;
    try {
      rowBatch.bytes = 8 * 1024;
      const done = await importFile(inline, body, Number.MAX_SAFE_INTEGER);
      expect(done).toMatchObject({ status: 'done', rows: 3000, imported: 3000, rejected: 0 });
      expect(await check(inline)).toEqual(await check(t));
    } finally {
      rowBatch.bytes = size;
      await inline.drop();
    }
  });

  it('fails the import with the reader error when the file breaks further down, and writes nothing', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => `ok${i}@example.com,Name ${i}`);
    const failed = await importFile(t, `email,name\n${rows.join('\n')}\n"broken@example.com,Never closed\n`, 0);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/could not be read as CSV: a quote opened at or before line \d+ is never closed/);
    const left = await sql<{ members: string; rows: string }>`
      select (select count(*) from members) as members, (select count(*) from import_rows) as rows`.execute(t.db);
    expect(left.rows[0]).toEqual({ members: '0', rows: '0' });
  });
});

describe("new members' custom field values", () => {
  it('are written by the insert that creates each member, not by an update after it (both merges)', async () => {
    // The update ran as a nested loop over every member per row (members' statistics still said
    // empty): quadratic in the file. PostgreSQL's own counters say whether any member row was updated.
    const counters = async (d: TestDatabase) =>
      (
        await sql<{ ins: string; upd: string }>`
          select n_tup_ins::text as ins, n_tup_upd::text as upd from pg_stat_user_tables where relname = 'members'`.execute(d.db)
      ).rows[0]!;
    for (const minNewMembers of [3, Number.MAX_SAFE_INTEGER]) {
      const d = await createTestDatabase();
      const saved = bulkMerge.minNewMembers;
      try {
        bulkMerge.minNewMembers = minNewMembers;
        await d.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
        await d.db.insertInto('member_fields').values({ key: 'city', label: 'City', type: 'text' }).execute();
        expect(await importFile(d, FILE, Number.MAX_SAFE_INTEGER)).toMatchObject({ status: 'done', imported: 4 });
        const cities = await sql<{ email: string; fields: unknown }>`select email, fields from members order by id`.execute(d.db);
        expect(cities.rows.map((r) => r.fields)).toEqual([{ city: 'Lyon' }, {}, { city: 'Köln' }, {}]);
        // The merge's session reports its counts when it goes idle: wait for its four inserts.
        let seen = await counters(d);
        for (let i = 0; i < 100 && Number(seen.ins) < 4; i++) {
          await new Promise((r) => setTimeout(r, 100));
          seen = await counters(d);
        }
        expect({ minNewMembers, ...seen }).toEqual({ minNewMembers, ins: '4', upd: '0' });
      } finally {
        bulkMerge.minNewMembers = saved;
        await d.drop();
      }
    }
  });
});

describe('dates in COPY text', () => {
  it('are read by PostgreSQL as the very instant, milliseconds and years past 9999 included', async () => {
    const dates = [
      '1970-01-01T00:00:00.000Z',
      '2024-02-29T23:59:59.999Z',
      '2021-03-04T05:06:07.008Z',
      '2099-12-31T00:00:00.050Z',
      '9999-12-31T23:59:59.999Z',
      // Beyond what the parser reads (four-digit years), but a date PostgreSQL holds.
      '+010000-01-01T00:00:00.000Z',
    ].map((d) => new Date(d));
    expect(copyDate(dates[2]!)).toBe('2021-03-04 05:06:07.008+00');
    expect(copyDate(null)).toBe('\\N');
    // Under a session time zone far from UTC, so that a missing offset would show.
    await sql`set time zone 'Pacific/Kiritimati'`.execute(t.db);
    for (const date of dates) {
      const back = await sql<{ ms: string }>`select (extract(epoch from ${copyDate(date)}::timestamptz) * 1000)::bigint as ms`.execute(
        t.db,
      );
      expect(Number(back.rows[0]!.ms), date.toISOString()).toBe(date.getTime());
    }
  });
});

describe('a re-import skips rows unchanged since their member was imported from them', () => {
  const summaryOf = (r: ImportRecord) => r.summary as unknown as { existing_members: number; changes: Record<string, number> };
  const skips = async (d: TestDatabase) =>
    Number((await sql<{ n: string }>`select count(*) as n from import_skips`.execute(d.db)).rows[0]!.n);

  // The same imports in two sites: staged by the thread (rows skipped), and in the run's session
  // (every row read and merged): members, labels, reports and counts must come out the same.
  async function both(steps: Array<{ body: string; before?: (d: TestDatabase) => Promise<void> }>) {
    const inline = await createTestDatabase();
    const results: Array<{ threaded: ImportRecord; inline: ImportRecord }> = [];
    try {
      await inline.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
      await inline.db.insertInto('member_fields').values({ key: 'city', label: 'City', type: 'text' }).execute();
      for (const step of steps) {
        await step.before?.(t);
        await step.before?.(inline);
        const threaded = await importFile(t, step.body, 0);
        const done = await importFile(inline, step.body, Number.MAX_SAFE_INTEGER);
        expect(await snapshot(t)).toEqual(await snapshot(inline));
        expect(await report(t, threaded.id)).toBe(await report(inline, done.id));
        const pick = (r: ImportRecord) => [
          r.status,
          r.rows,
          r.imported,
          r.updated,
          r.rejected,
          summaryOf(r).existing_members,
          summaryOf(r).changes,
        ];
        expect(pick(threaded)).toEqual(pick(done));
        results.push({ threaded, inline: done });
      }
      expect(await skips(t)).toBe(0);
    } finally {
      await inline.drop();
    }
    return results;
  }

  it('the same file again: every member row skipped, the duplicate still rejected as a duplicate of its first row', async () => {
    const [, again] = await both([{ body: FILE }, { body: FILE }]);
    expect(again!.threaded).toMatchObject({ status: 'done', rows: 6, imported: 0, updated: 4, rejected: 2 });
    // Rows were skipped (the options they were staged with are kept), none in the run's session.
    expect(again!.threaded.staged_key).not.toBeNull();
    expect(again!.inline.staged_key).toBeNull();
    expect(await report(t, again!.threaded.id)).toMatch(/^row,email,reason\n4,ana@example.com,duplicate of row 2\n7,/);
  });

  it('reads a row again when it changed, or when its member changed here', async () => {
    const changed = FILE.replace('eve@example.com,Eve,subscribed', 'eve@example.com,Eve,unsubscribed');
    const results = await both([
      { body: FILE },
      {
        body: changed,
        // Ben left as unsubscribed comes back here; Ana leaves Hearth itself.
        before: async (d) => {
          await d.db.updateTable('members').set({ status: 'unsubscribed' }).where('email', '=', 'ana@example.com').execute();
          await d.db.updateTable('members').set({ name: null }).where('email', '=', 'ben@example.com').execute();
        },
      },
    ]);
    const second = results[1]!.threaded;
    expect(summaryOf(second).changes).toEqual({ unsubscribed: 1, kept_left: 1 });
    expect(second).toMatchObject({ rows: 6, imported: 0, updated: 4, rejected: 2 });
    const rows = await snapshot(t);
    expect(rows.find((r) => r.email === 'eve@example.com')).toMatchObject({ status: 'unsubscribed' });
    expect(rows.find((r) => r.email === 'ben@example.com')).toMatchObject({ name: 'Ben' });
  });

  it('an address on an unchanged row and on another row: the earlier is its row, the later a duplicate', async () => {
    const lines = FILE.split('\n');
    // A new row for Ben before his unchanged one, and an exact copy of Ana's after hers.
    const body = [lines[0], 'BEN@example.com,Ben B,subscribed,,,,', ...lines.slice(1), lines[1]].join('\n');
    const [, again] = await both([{ body: FILE }, { body }]);
    expect(again!.threaded).toMatchObject({ status: 'done', rows: 8, imported: 0, updated: 4, rejected: 4 });
    const text = await report(t, again!.threaded.id);
    expect(text).toContain('4,ben@example.com,duplicate of row 2\n');
    expect(text).toContain('5,ana@example.com,duplicate of row 3\n');
    expect(text).toContain('9,ana@example.com,duplicate of row 3\n');
  });
});
