import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/domain/demo/seed.ts';
import { createTestDatabase, TEST_SECRET, type TestDatabase } from '../helpers/db.ts';
import { runCli } from '../helpers/server.ts';

/** `export site` and `import site` through the real CLI: the lines an operator sees, and the exit codes. */
let source: TestDatabase;
let target: TestDatabase;
let work: string;
const envFor = (db: TestDatabase, uploads: string) => ({
  DATABASE_URL: db.url,
  APP_SECRET: TEST_SECRET,
  LOG_LEVEL: 'warn',
  UPLOADS_DIR: uploads,
});

beforeAll(async () => {
  source = await createTestDatabase();
  target = await createTestDatabase();
  await seedDemo(source.db, { members: 10 });
  work = await mkdtemp(join(tmpdir(), 'hearth-cli-archive-'));
});
afterAll(async () => {
  await source?.drop();
  await target?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('export site / import site', () => {
  it('exports, imports into an empty site, then refuses the non-empty site and a damaged file', async () => {
    const file = join(work, 'site.tar.gz');
    const out = await runCli(['export', 'site', file], envFor(source, join(work, 'up-a')));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^exported \d+ rows from \d+ tables and 0 uploads to .*site\.tar\.gz/);

    const imported = await runCli(['import', 'site', file], envFor(target, join(work, 'up-b')));
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported \d+ rows and 0 uploads/);
    const members = async (db: TestDatabase) => Number((await db.pool.query('select count(*) as n from members')).rows[0].n);
    expect(await members(target)).toBe(10);

    const again = await runCli(['import', 'site', file], envFor(target, join(work, 'up-b')));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^hearth: archive refused: this site already has members, newsletters or posts \(pass --force to replace them\); nothing was changed\n$/,
    );

    const damaged = join(work, 'damaged.tar.gz');
    await writeFile(damaged, 'not an archive');
    const bad = await runCli(['import', 'site', damaged, '--force'], envFor(target, join(work, 'up-b')));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^hearth: archive refused: damaged archive/);
    expect(await members(target)).toBe(10);

    const usage = await runCli(['import', 'site'], envFor(target, join(work, 'up-b')));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('import site needs a FILE.tar.gz');
  });
});
