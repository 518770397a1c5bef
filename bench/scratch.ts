import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { createDatabase, type DatabaseHandle } from '../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase } from '../src/lib/embedded-postgres.ts';

/**
 * A migrated scratch database for one benchmark run, on BENCH_DATABASE_URL (a server URL) or an
 * embedded PostgreSQL under the system temp folder; dropped (and the server stopped) afterwards.
 * With `keep` (a database name), that database is created when missing, reused when present, and
 * kept afterwards: a benchmark can generate its data once and time several runs over it.
 */
export async function withScratchDatabase<T>(
  label: string,
  options: { poolSize?: number; keep?: string },
  run: (db: DatabaseHandle & { url: string; embedded: boolean; reused: boolean }) => Promise<T>,
): Promise<T> {
  const embedded = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(join(tmpdir(), 'hearth-bench-postgres'));
  const server = process.env.BENCH_DATABASE_URL ?? embedded!.url;
  const name = options.keep ?? `hearth_bench_${label}_${process.pid}`;
  const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
  await admin.connect();
  const reused = options.keep !== undefined && (await admin.query(`select 1 from pg_database where datname = $1`, [name])).rowCount === 1;
  if (!reused) await admin.query(`create database "${name}"`);
  const url = withDatabase(server, name);
  const handle = createDatabase(url, { max: options.poolSize ?? 4 });
  try {
    await migrateToLatest(handle.db, handle.pool);
    return await run({ ...handle, url, embedded: embedded !== undefined, reused });
  } finally {
    await handle.close();
    if (!options.keep) await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.end();
    await embedded?.stop();
  }
}
