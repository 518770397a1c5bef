/**
 * Crash trials of the sending engine: `hearth worker` processes killed with SIGKILL at random
 * points of a send, restarted, and every member counted at a local Resend-compatible server.
 * Usage: npm run bench:send-crash -- [trials=10] [recipients=20000]
 * Uses BENCH_DATABASE_URL (a server URL; a scratch database is created on it) or an embedded
 * PostgreSQL under the system temp folder.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { createDatabase } from '../src/lib/db.ts';
import { startEmbeddedPostgres, withDatabase } from '../src/lib/embedded-postgres.ts';
import { crashTrial } from '../test/helpers/crash-trials.ts';
import { seedAudience } from '../test/helpers/sending.ts';
import { startResendTestServer } from '../test/servers/resend.ts';

const trials = Number(process.argv[2] ?? 10);
const recipients = Number(process.argv[3] ?? 20_000);
const embedded = process.env.BENCH_DATABASE_URL ? undefined : await startEmbeddedPostgres(join(tmpdir(), 'hearth-bench-postgres'));
const server = process.env.BENCH_DATABASE_URL ?? embedded!.url;
const name = `hearth_bench_crash_${process.pid}`;
const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
await admin.connect();
await admin.query(`create database "${name}"`);
const url = withDatabase(server, name);
const handle = createDatabase(url, { max: 4 });
const resend = await startResendTestServer({ light: true });
try {
  await migrateToLatest(handle.db, handle.pool);
  await seedAudience(handle.db, recipients);
  const expected = Array.from({ length: recipients }, (_, i) => `reader${i + 1}@example.com`);
  let duplicates = 0;
  let losses = 0;
  let kills = 0;
  for (let i = 0; i < trials; i++) {
    const result = await crashTrial(handle.db, { databaseUrl: url, resend, secret: 'bench-secret-0123456789abcdef0123456789', expected, kills: 1 + (i % 3) });
    duplicates += result.duplicates;
    losses += result.losses;
    kills += result.kills;
    console.log(JSON.stringify({ trial: i + 1, ...result }));
  }
  console.log(JSON.stringify({ figure: 'send crash trials', trials, recipients, kills, duplicates, losses }));
} finally {
  await resend.close();
  await handle.close();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
  await embedded?.stop();
}
