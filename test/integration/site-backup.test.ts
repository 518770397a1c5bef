import { sql } from 'kysely';
import { mkdtemp, readdir, readFile, mkdir, writeFile, rm } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { gunzipSync, createGunzip, createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createApiToken } from '../../src/domain/staff/api-tokens.ts';
import { exportSiteToFile } from '../../src/domain/backup/files.ts';
import { importSite } from '../../src/domain/backup/import.ts';
import { runNightlyBackup } from '../../src/domain/backup/nightly.ts';
import type { Manifest } from '../../src/domain/backup/export.ts';
import { NOT_EXPORTED } from '../../src/domain/backup/tables.ts';
import { readTar, tarEntry, TAR_END } from '../../src/lib/tar.ts';
import { can } from '../../src/domain/staff/permissions.ts';
import { decideRoute } from '../../src/web/guard.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/** The whole site out and back in (domain/backup/): round trip, refusals, secrets, the nightly job. */
let source: TestDatabase;
let work: string;
let uploads: string;
let archive: string;
let manifest: Manifest;
let apiToken: string;
const IMAGE = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(700, 7)]);

async function rowsOf(db: TestDatabase, table: string): Promise<string[]> {
  const result = await db.pool.query<{ r: string }>(`select row_to_json(t)::text as r from "${table}" t`);
  return result.rows.map((row) => row.r).sort();
}

/** Every table's rows, and the count of rows in the tables an import would touch. */
async function snapshot(db: TestDatabase): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of Object.keys(manifest.tables)) out[table] = await rowsOf(db, table);
  return out;
}

/** The same archive with its manifest changed (and, if asked, one table entry dropped). */
async function rewritten(change: (m: Manifest) => void, name: string): Promise<string> {
  const parts: Buffer[] = [];
  const source = createReadStream(archive).pipe(createGunzip());
  for await (const entry of readTar(source as AsyncIterable<Buffer>)) {
    const body: Buffer[] = [];
    for await (const chunk of entry.body) body.push(chunk);
    let data = Buffer.concat(body);
    if (entry.name === 'manifest.json') {
      const m = JSON.parse(data.toString('utf8')) as Manifest;
      change(m);
      data = Buffer.from(JSON.stringify(m));
    }
    parts.push(...tarEntry(entry.name, data));
  }
  parts.push(TAR_END);
  const file = join(work, name);
  await pipeline(Readable.from(parts), createGzip(), createWriteStream(file));
  return file;
}

beforeAll(async () => {
  source = await createTestDatabase();
  await seedDemo(source.db, { members: 25 });
  // Custom fields with values, and a poll with answers: they travel with the site too.
  await sql`insert into member_fields (key, label, type, options, member_editable) values ('city', 'City', 'choice', '{Paris,Lyon}', true), ('age', 'Age', 'number', '{}', false)`.execute(
    source.db,
  );
  await sql`update members set fields = jsonb_build_object('city', case when id % 2 = 0 then 'Paris' else 'Lyon' end, 'age', 20 + id % 40) where id % 3 = 0`.execute(
    source.db,
  );
  await sql`insert into polls (question, answers) values ('Tea or coffee?', '{Tea,Coffee}')`.execute(source.db);
  await sql`insert into poll_votes (poll_id, member_id, answer, channel) select (select id from polls limit 1), id, id % 2, 'web' from members where id % 4 = 0`.execute(
    source.db,
  );
  const owner = await createStaffUser(source.db, { email: 'owner@example.com', password: 'owner password 1', role: 'owner' });
  apiToken = (await createApiToken(source.db, owner.id, 'backup test')).token;
  work = await mkdtemp(join(tmpdir(), 'hearth-backup-'));
  uploads = join(work, 'uploads');
  await mkdir(join(uploads, '2026-11'), { recursive: true });
  await writeFile(join(uploads, '2026-11', 'abc123.png'), IMAGE);
  archive = join(work, 'site.tar.gz');
  manifest = await exportSiteToFile(source.pool, archive, { uploadsDir: uploads });
});

afterAll(async () => {
  await source?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('export site', () => {
  it('writes a manifest with the schema version, the counts and the uploads', () => {
    expect(manifest.schemaVersion).toMatch(/^\d{4}_/);
    expect(manifest.hearthVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(manifest.tables.members!.rows).toBe(25);
    expect(manifest.tables.posts!.rows).toBeGreaterThan(0);
    expect(manifest.tables.staff_users!.rows).toBe(1);
    expect(manifest.uploads).toEqual({ files: 1, bytes: IMAGE.length });
  });

  it('carries no secrets: no API tokens, sessions or sign-in links', async () => {
    for (const denied of Object.keys(NOT_EXPORTED)) expect(manifest.tables).not.toHaveProperty(denied);
    const raw = gunzipSync(await readFile(archive)).toString('latin1');
    expect(raw).not.toContain(apiToken);
    const hashes = await source.pool.query<{ h: string }>(`select token_hash as h from api_tokens`);
    for (const { h } of hashes.rows) expect(raw).not.toContain(h);
    expect(raw).not.toContain('tables/api_tokens/');
  });
});

describe('import site', () => {
  it('reproduces the site in an empty database, every table row for row, and the uploads', async () => {
    const target = await createTestDatabase();
    const restored = join(work, 'restored-uploads');
    try {
      const result = await importSite(target.pool, archive, { uploadsDir: restored });
      expect(result.rows).toBe(Object.values(manifest.tables).reduce((s, t) => s + t.rows, 0));
      const before = await snapshot(source);
      const after = await snapshot(target);
      for (const table of Object.keys(manifest.tables)) expect(after[table], table).toEqual(before[table]);
      expect(await readFile(join(restored, '2026-11', 'abc123.png'))).toEqual(IMAGE);
      expect((await readdir(restored)).filter((n) => n.startsWith('.'))).toEqual([]);
      // Sequences go on after the loaded rows: a new staff user gets a fresh id.
      const added = await createStaffUser(target.db, { email: 'new@example.com', password: 'new password 12', role: 'admin' });
      expect(added.id).toBeTruthy();
      // Not empty any more: a second import is refused and changes nothing.
      await expect(importSite(target.pool, archive, { uploadsDir: restored })).rejects.toThrow(/already has members.*--force/);
      expect(await rowsOf(target, 'staff_users')).toHaveLength(2);
      // --force replaces it.
      await importSite(target.pool, archive, { uploadsDir: restored, force: true });
      expect(await rowsOf(target, 'staff_users')).toEqual(before.staff_users);
    } finally {
      await target.drop();
    }
  });

  describe('refuses, leaving the site unchanged', () => {
    let target: TestDatabase;
    let empty: Record<string, string[]>;
    beforeAll(async () => {
      target = await createTestDatabase();
      empty = await snapshot(target);
    });
    afterAll(async () => {
      await target?.drop();
    });
    const refusedLeavesUnchanged = async (file: string, message: RegExp) => {
      const restored = join(work, 'refused-uploads');
      await expect(importSite(target.pool, file, { uploadsDir: restored })).rejects.toThrow(message);
      expect(await snapshot(target)).toEqual(empty);
      const written = await readdir(restored).catch(() => []);
      expect(written).toEqual([]);
    };

    it('an archive from a newer schema', async () => {
      const file = await rewritten((m) => (m.schemaVersion = '9999_from_the_future'), 'newer.tar.gz');
      await refusedLeavesUnchanged(file, /archive refused: .*newer than this Hearth/);
    });

    it('an archive whose counts do not match its manifest', async () => {
      const file = await rewritten((m) => (m.tables.members!.rows += 1), 'counts.tar.gz');
      await refusedLeavesUnchanged(file, /damaged archive \(members: 25 rows, the manifest says 26\)/);
    });

    it('a truncated archive (gzip cut short)', async () => {
      const bytes = await readFile(archive);
      const file = join(work, 'cut.tar.gz');
      await writeFile(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      await refusedLeavesUnchanged(file, /damaged archive/);
    });

    it('a file that is not gzip at all, and one without a manifest', async () => {
      const file = join(work, 'not.tar.gz');
      await writeFile(file, 'hello, this is not an archive\n');
      await refusedLeavesUnchanged(file, /damaged archive/);
      const bare = join(work, 'bare.tar.gz');
      await pipeline(
        Readable.from([...tarEntry('tables/members/000001.ndjson', Buffer.from('{}\n')), TAR_END]),
        createGzip(),
        createWriteStream(bare),
      );
      await refusedLeavesUnchanged(bare, /no manifest/);
    });
  });
});

describe('nightly backup', () => {
  it('writes one archive a day, keeps the newest N, cleans a killed run, and its archive restores', async () => {
    const dir = join(work, 'backups');
    await mkdir(dir, { recursive: true });
    // What a run killed with -9 leaves: a hidden partial file.
    await writeFile(join(dir, '.hearth-site-2026-01-01.tar.gz.4242.partial'), 'half');
    const day = (d: string) => new Date(`${d}T03:41:00Z`);
    const first = await runNightlyBackup(source.pool, { backupDir: dir, keep: 2, uploadsDir: uploads, now: day('2026-01-01') });
    expect(first).toMatchObject({ written: join(dir, 'hearth-site-2026-01-01.tar.gz') });
    const again = await runNightlyBackup(source.pool, { backupDir: dir, keep: 2, uploadsDir: uploads, now: day('2026-01-01') });
    expect(again).toMatchObject({ skipped: join(dir, 'hearth-site-2026-01-01.tar.gz') });
    await runNightlyBackup(source.pool, { backupDir: dir, keep: 2, uploadsDir: uploads, now: day('2026-01-02') });
    const third = await runNightlyBackup(source.pool, { backupDir: dir, keep: 2, uploadsDir: uploads, now: day('2026-01-03') });
    expect(third.removed).toEqual(['hearth-site-2026-01-01.tar.gz']);
    expect((await readdir(dir)).sort()).toEqual(['hearth-site-2026-01-02.tar.gz', 'hearth-site-2026-01-03.tar.gz']);

    const target = await createTestDatabase();
    try {
      await importSite(target.pool, join(dir, 'hearth-site-2026-01-03.tar.gz'), { uploadsDir: join(work, 'nightly-uploads') });
      expect(await rowsOf(target, 'members')).toEqual(await rowsOf(source, 'members'));
      expect(await rowsOf(target, 'posts')).toEqual(await rowsOf(source, 'posts'));
    } finally {
      await target.drop();
    }
  });
});

describe('the admin download', () => {
  it("is the owner's alone", () => {
    expect(decideRoute('/admin/export', 'GET')).toEqual({ kind: 'staff', permission: 'site:export' });
    expect(can('owner', 'site:export')).toBe(true);
    for (const role of ['admin', 'editor', 'moderator'] as const) expect(can(role, 'site:export')).toBe(false);
  });
});
