/**
 * How fast the site archive goes out and back in (src/domain/backup/): a demo site of N members
 * (seedDemo; default 100,000) exported to a file, then imported into an empty database.
 * Usage: node bench/site-export.ts [N]. Uses BENCH_DATABASE_URL (a server URL; two scratch
 * databases are created on it and dropped) or an embedded PostgreSQL under the system temp folder.
 * Prints one JSON line: rows, archive bytes, export and import seconds, peak RSS of this process.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { seedDemo } from '../src/domain/demo/seed.ts';
import { exportSiteToFile } from '../src/domain/backup/files.ts';
import { importSite } from '../src/domain/backup/import.ts';
import { createDatabase } from '../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase } from '../src/lib/embedded-postgres.ts';
import { setLogLevel } from '../src/lib/log.ts';

const members = Number(process.argv[2] ?? 100_000);
setLogLevel('warn');
const embedded = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(join(tmpdir(), 'hearth-bench-archive-postgres'));
const server = process.env.BENCH_DATABASE_URL ?? embedded!.url;
const names = [`hearth_bench_archive_a_${process.pid}`, `hearth_bench_archive_b_${process.pid}`];
const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
await admin.connect();
for (const name of names) await admin.query(`create database "${name}"`);
const [source, target] = names.map((name) => createDatabase(withDatabase(server, name), { max: 3 }));
const work = await mkdtemp(join(tmpdir(), 'hearth-bench-archive-'));
let peak = process.memoryUsage().rss;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
try {
  for (const db of [source!, target!]) await migrateToLatest(db.db, db.pool);
  await seedDemo(source!.db, { members });
  const file = join(work, 'site.tar.gz');
  const t0 = Date.now();
  const manifest = await exportSiteToFile(source!.pool, file, { uploadsDir: join(work, 'uploads') });
  const t1 = Date.now();
  const result = await importSite(target!.pool, file, { uploadsDir: join(work, 'restored') });
  const t2 = Date.now();
  console.log(
    JSON.stringify({
      members,
      rows: result.rows,
      tables: Object.keys(manifest.tables).length,
      archiveBytes: (await stat(file)).size,
      exportSeconds: (t1 - t0) / 1000,
      importSeconds: (t2 - t1) / 1000,
      peakRssMiB: Math.round(peak / 1024 / 1024),
    }),
  );
} finally {
  clearInterval(sampler);
  await source!.close();
  await target!.close();
  for (const name of names) await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
  await embedded?.stop();
  await rm(work, { recursive: true, force: true });
}
