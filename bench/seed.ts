/**
 * How fast `seed --demo --members N` fills a database (the fixture for the member-list and
 * stats benchmarks). Usage: npm run bench:seed -- [N]   (default 1,000,000)
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { seedDemo } from '../src/domain/demo/seed.ts';
import { createDatabase } from '../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase } from '../src/lib/embedded-postgres.ts';

const members = Number(process.argv[2] ?? 1_000_000);
const embedded = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(join(tmpdir(), 'hearth-bench-postgres'));
const server = process.env.BENCH_DATABASE_URL ?? embedded!.url;
const name = `hearth_bench_seed_${process.pid}`;
const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
await admin.connect();
await admin.query(`create database "${name}"`);
const handle = createDatabase(withDatabase(server, name), { max: 2 });
try {
  await migrateToLatest(handle.db, handle.pool);
  const started = performance.now();
  const result = await seedDemo(handle.db, { members });
  const seconds = (performance.now() - started) / 1000;
  const size = await handle.pool.query<{ size: string }>(`select pg_size_pretty(pg_database_size(current_database())) as size`);
  console.log(
    JSON.stringify({
      figure: 'seed --demo',
      members: result.membersAdded,
      seconds: Number(seconds.toFixed(1)),
      membersPerSecond: Math.round(result.membersAdded / seconds),
      databaseSize: size.rows[0]!.size,
      database: embedded ? 'embedded' : 'external',
    }),
  );
} finally {
  await handle.close();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
  await embedded?.stop();
}
