/**
 * How fast a member import runs: createImport (upload into import_chunks), then runImport
 * (parse + COPY into staging, then the one merge transaction), on a realistic Mailchimp export
 * from bench/make-import-csv.ts. Usage: node bench/import.ts [N]   (default 1,000,000)
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder. The CSV is cached under the temp folder by N.
 *
 * Prints one JSON line per import: the file into an empty database (every member new), then the
 * same file again (every member matched). The end of parsing is seen from the import row
 * (bytes_done reaching bytes), read every 50 ms on a separate connection. Peak RSS is this
 * process's (the database server is another process).
 *
 * The process runs under `hearth serve`'s memory settings (src/lib/heap.ts: glibc's allocator
 * settings, by restarting itself in place as serve does, and V8's heap growing factor), so its
 * RSS is the server's. BENCH_AS_IS=1 runs without them (figures before 2026-11-30 15:00 UTC).
 *
 * CPU seconds per import (Linux, database on this machine): this process's (threads included) and
 * every `postgres` process's, exited ones too (a backend's or parallel worker's time is added to
 * its parent's when it ends). Their sum over the machine's cores is a floor for the wall time
 * that no overlap of the phases can go under.
 */
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from '../db/types.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { createImport, getImport, runImport, startImport, validateBulkKeys } from '../src/domain/imports/pipeline.ts';
import { createDatabase } from '../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase } from '../src/lib/embedded-postgres.ts';
import { ALLOCATOR_ENV, applyAllocatorPolicy, applyHeapPolicy } from '../src/lib/heap.ts';
import { setLogLevel } from '../src/lib/log.ts';
import { writeImportCsv } from './make-import-csv.ts';

const asIs = process.env.BENCH_AS_IS === '1';
if (!asIs) {
  applyAllocatorPolicy();
  applyHeapPolicy();
}
const rows = Number(process.argv[2] ?? 1_000_000);
const file = join(tmpdir(), `hearth-bench-import-${rows}.csv`);
if (!existsSync(file)) await writeImportCsv(rows, file);
setLogLevel(process.env.LOG_LEVEL === 'debug' ? 'debug' : 'warn');

const embedded = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(join(tmpdir(), 'hearth-bench-import-postgres'));
const server = process.env.BENCH_DATABASE_URL ?? embedded!.url;
const name = `hearth_bench_import_${process.pid}`;
const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
await admin.connect();
await admin.query(`create database "${name}"`);
// runImport holds one connection and reads chunks on another; the third is the progress probe.
const handle = createDatabase(withDatabase(server, name), { max: 3 });

const seconds = (from: number, to: number) => Number(((to - from) / 1000).toFixed(1));

/** Peak RSS by phase, sampled every 50 ms (maxRSS is the process's peak since it started). */
const peaks = { upload: 0, parse: 0, merge: 0 };
let phase: keyof typeof peaks = 'upload';
const sampler = setInterval(() => {
  peaks[phase] = Math.max(peaks[phase], process.memoryUsage.rss());
}, 50);
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** CPU seconds used so far by every postgres process on this machine (Linux /proc; 0 elsewhere). */
function postgresCpuSeconds(): number {
  let ticks = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return 0;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      // After the name: state is field 3; utime, stime, cutime, cstime are fields 14–17.
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks / 100; // USER_HZ
}

async function timedImport(db: Kysely<Database>, figure: string): Promise<Record<string, unknown>> {
  peaks.upload = peaks.parse = peaks.merge = 0;
  phase = 'upload';
  const cpu0 = process.cpuUsage();
  const pg0 = postgresCpuSeconds();
  const t0 = performance.now();
  const created = await createImport(db, { filename: 'bench.csv', body: createReadStream(file, { highWaterMark: 1024 * 1024 }) });
  const t1 = performance.now();
  const cpuAt = (): [number, number] => {
    const used = process.cpuUsage(cpu0);
    return [(used.user + used.system) / 1e6, postgresCpuSeconds() - pg0];
  };
  const uploaded = cpuAt();
  let parsedCpu: [number, number] | undefined;
  await startImport(db, created.id, {});
  phase = 'parse';
  let parsedAt: number | undefined;
  const probe = setInterval(() => {
    void getImport(db, created.id).then((r) => {
      if (parsedAt === undefined && r.status === 'running' && r.bytes_done === r.bytes) {
        parsedAt = performance.now();
        parsedCpu = cpuAt();
        phase = 'merge';
      }
    });
  }, 50);
  const t2 = performance.now();
  await runImport(db, handle.pool, created.id);
  const t3 = performance.now();
  const [nodeCpu, pgCpu] = cpuAt();
  const parsedUse = parsedCpu ?? [nodeCpu, pgCpu];
  const round = (n: number) => Number(n.toFixed(1));
  clearInterval(probe);
  const done = await getImport(db, created.id);
  if (done.status !== 'done') throw new Error(`import ${done.status}: ${done.error}`);
  const parsed = parsedAt ?? t3;
  // What the import_validate_keys job does after a bulk merge's commit (the import is done, and
  // members are read and written, meanwhile): timed on its own, not in the import's figures.
  const t4 = performance.now();
  const keysValidated = await validateBulkKeys(db);
  const keysValidatedSeconds = keysValidated > 0 ? seconds(t4, performance.now()) : null;
  return {
    figure,
    rows: done.rows,
    imported: done.imported,
    updated: done.updated,
    rejected: done.rejected,
    fileMB: Math.round(statSync(file).size / 1e6),
    uploadSeconds: seconds(t0, t1),
    parseCopySeconds: seconds(t2, parsed),
    mergeSeconds: seconds(parsed, t3),
    totalSeconds: seconds(t0, t3),
    rowsPerSecond: Math.round(done.rows / ((t3 - t0) / 1000)),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    rssByPhaseMB: { upload: mb(peaks.upload), parse: mb(peaks.parse), merge: mb(peaks.merge) },
    cpuSeconds: {
      node: round(nodeCpu),
      postgres: round(pgCpu),
      byPhase: {
        upload: [round(uploaded[0]), round(uploaded[1])],
        parse: [round(parsedUse[0] - uploaded[0]), round(parsedUse[1] - uploaded[1])],
        merge: [round(nodeCpu - parsedUse[0]), round(pgCpu - parsedUse[1])],
      },
      floorOnCores: round((nodeCpu + pgCpu) / availableParallelism()),
    },
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    keysValidatedAfterSeconds: keysValidatedSeconds,
  };
}

try {
  await migrateToLatest(handle.db, handle.pool);
  await handle.db.insertInto('newsletters').values({ slug: 'weekly', name: 'The Weekly', is_default: true }).execute();
  const database = embedded ? 'embedded' : 'external';
  const memory = asIs
    ? 'as is'
    : Object.entries(ALLOCATOR_ENV)
        .map(([k]) => `${k}=${process.env[k] ?? '(unset)'}`)
        .join(' ');
  // The process before any import (modules loaded, database migrated): what the import adds is above it.
  console.log(JSON.stringify({ figure: 'before the first import', rssMB: mb(process.memoryUsage.rss()), memory }));
  console.log(JSON.stringify({ ...(await timedImport(handle.db, 'import, all new')), database }));
  console.log(JSON.stringify({ ...(await timedImport(handle.db, 'import again, all existing')), database }));
} finally {
  clearInterval(sampler);
  await handle.close();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
  await embedded?.stop();
}
