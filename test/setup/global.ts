import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateToLatest } from '../../db/migrate.ts';
import { createDatabase } from '../../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase, type EmbeddedPostgres } from '../../src/lib/embedded-postgres.ts';
import { buildIfNeeded } from '../../src/server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL of the test server (any database name is replaced per test file). */
    pgServerUrl: string;
    /** A migrated database that each test file clones (CREATE DATABASE … TEMPLATE). */
    templateDatabase: string;
    /** Prefix of every database this run creates, for cleanup. */
    databasePrefix: string;
  }
}

/**
 * Once per run: a real PostgreSQL (TEST_DATABASE_URL or DATABASE_URL when set, otherwise an
 * embedded one under the system temp folder), a migrated template database, and a built site
 * for the tests that start the real server.
 */
export default async function setup(project: TestProject) {
  let embedded: EmbeddedPostgres | undefined;
  let serverUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!serverUrl) {
    // One test cluster per checkout, kept between runs (initdb is the slow part).
    const checkout = createHash('sha256')
      .update(import.meta.dirname)
      .digest('hex')
      .slice(0, 10);
    embedded = await startEmbeddedPostgres(join(tmpdir(), `hearth-test-postgres-${checkout}`));
    serverUrl = embedded.url;
  }
  const prefix = `hearth_test_${process.pid}_`;
  const template = `${prefix}template`;
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  // Databases left by an earlier run that was killed.
  const stale = await admin.query<{ datname: string }>(`select datname from pg_database where datname like 'hearth\\_test\\_%'`);
  for (const { datname } of stale.rows) {
    const pid = Number(/^hearth_test_(\d+)_/.exec(datname)?.[1]);
    if (pid && pid !== process.pid && processIsAlive(pid)) continue; // another run in progress
    await admin.query(`drop database if exists "${datname}" with (force)`);
  }
  await admin.query(`create database "${template}"`);
  const handle = createDatabase(withDatabase(serverUrl, template), { max: 2 });
  await migrateToLatest(handle.db, handle.pool);
  await handle.close();

  buildIfNeeded();

  project.provide('pgServerUrl', serverUrl);
  project.provide('templateDatabase', template);
  project.provide('databasePrefix', prefix);
  // A folder of this run's own, removed at its end: each test file's servers and CLI runs get a
  // DATA_DIR in it (helpers/server.ts). The workers are started after this and inherit it.
  const dataRoot = mkdtempSync(join(tmpdir(), 'hearth-test-data-'));
  process.env.HEARTH_TEST_DATA_ROOT = dataRoot;

  return async () => {
    const mine = await admin.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [`${prefix}%`]);
    for (const { datname } of mine.rows) await admin.query(`drop database if exists "${datname}" with (force)`);
    await admin.end();
    await embedded?.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  };
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
