import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanEnv, ROOT } from '../helpers/server.ts';

// The servers and CLI runs the tests start keep their files (uploads, an embedded PostgreSQL, backups)
// in a folder of the test run's own, never in the checkout's `.data` beside a developer's own.
describe("the test servers' environment", () => {
  it('gives a DATA_DIR of the run, the same for the whole file, outside the checkout', () => {
    const root = process.env.HEARTH_TEST_DATA_ROOT;
    expect(root).toBeTruthy();
    const env = cleanEnv({});
    expect(env.DATA_DIR).toBeTruthy();
    expect(relative(root!, env.DATA_DIR!).startsWith('..')).toBe(false);
    expect(relative(ROOT, env.DATA_DIR!).startsWith('..')).toBe(true);
    expect(cleanEnv({}).DATA_DIR).toBe(env.DATA_DIR);
  });

  it("keeps a test's own DATA_DIR, and drops the folders the developer's environment names", () => {
    const saved = { UPLOADS_DIR: process.env.UPLOADS_DIR, BACKUP_DIR: process.env.BACKUP_DIR };
    process.env.UPLOADS_DIR = '/srv/hearth/uploads';
    process.env.BACKUP_DIR = '/srv/hearth/backups';
    try {
      const env = cleanEnv({ DATA_DIR: '/tmp/mine' });
      expect(env.DATA_DIR).toBe('/tmp/mine');
      expect(env.UPLOADS_DIR).toBeUndefined();
      expect(env.BACKUP_DIR).toBeUndefined();
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});
