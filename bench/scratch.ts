import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { createDatabase, type DatabaseHandle } from '../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase } from '../src/lib/embedded-postgres.ts';

/**
 * A migrated scratch database for one benchmark run, on BENCH_DATABASE_URL (a server URL) or an
 * embedded PostgreSQL under the system temp folder; dropped (and the server stopped) afterwards.
 */
export async function withScratchDatabase<T>(
  label: string,
  options: { poolSize?: number },
  run: (db: DatabaseHandle & { url: string; embedded: boolean }) => Promise<T>,
): Promise<T> {
  const embedded = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(join(tmpdir(), 'hearth-bench-postgres'));
  const server = process.env.BENCH_DATABASE_URL ?? embedded!.url;
  const name = `hearth_bench_${label}_${process.pid}`;
  const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  const url = withDatabase(server, name);
  const handle = createDatabase(url, { max: options.poolSize ?? 4 });
  try {
    await migrateToLatest(handle.db, handle.pool);
    return await run({ ...handle, url, embedded: embedded !== undefined });
  } finally {
    await handle.close();
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
    await embedded?.stop();
  }
}
