import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../../src/lib/db.ts';
import { withDatabase } from '../../src/lib/embedded-postgres.ts';

export interface TestDatabase extends DatabaseHandle {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh database cloned from the migrated template: isolated, and made in about 100 ms. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const server = inject('pgServerUrl');
  const name = `${inject('databasePrefix')}${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`create database "${name}" template "${inject('templateDatabase')}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(server, name);
  const handle = createDatabase(url, { max: 5 });
  return {
    ...handle,
    url,
    name,
    async drop() {
      await handle.close();
      const c = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}

export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
