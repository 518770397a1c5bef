/**
 * Staging alone (the run up to the plan: a preview import), in the worker thread or in the run's
 * own session, alternated in one process so both see the same load.
 * Usage: node bench/import-staging.ts FILE.csv [modes]   modes: comma-separated of thread, inline,
 * thread-big (a 256 MB / 48 MB heap), thread-young (64 MB / 48 MB); default thread,inline,thread,inline. Needs BENCH_DATABASE_URL.
 * Prints seconds per run and the process's RSS after it.
 */
import { createReadStream } from 'node:fs';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { createImport, runImport, startImport } from '../src/domain/imports/pipeline.ts';
import { staging } from '../src/domain/imports/run.ts';
import { createDatabase } from '../src/lib/db.ts';
import { withDatabase } from '../src/lib/embedded-postgres.ts';
import { setLogLevel } from '../src/lib/log.ts';
setLogLevel('warn');
const server = process.env.BENCH_DATABASE_URL!;
const name = `hearth_stage_${process.pid}`;
const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
await admin.connect();
await admin.query(`create database "${name}"`);
const handle = createDatabase(withDatabase(server, name), { max: 3 });
try {
  await migrateToLatest(handle.db, handle.pool);
  for (const mode of (process.argv[3] ?? 'thread,inline,thread,inline').split(',')) {
    staging.threadBytes = mode.startsWith('thread') ? 0 : Number.MAX_SAFE_INTEGER;
    if (mode === 'thread-big') staging.limits = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 48 };
    if (mode === 'thread') staging.limits = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 };
    if (mode === 'thread-young') staging.limits = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 48 };
    const created = await createImport(handle.db, {
      filename: 'b.csv',
      body: createReadStream(process.argv[2]!, { highWaterMark: 1 << 20 }),
    });
    await startImport(handle.db, created.id, { preview: true });
    const t0 = performance.now();
    await runImport(handle.db, handle.pool, created.id);
    console.log(mode, ((performance.now() - t0) / 1000).toFixed(1), 's', Math.round(process.memoryUsage.rss() / 1048576), 'MB');
    await handle.db.deleteFrom('import_rows').execute();
  }
} finally {
  await handle.close();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
}
