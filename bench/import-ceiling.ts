/**
 * What PostgreSQL itself does on this machine, without Hearth: the ceiling for the member import.
 * Usage: node bench/import-ceiling.ts [N] [--build-only]   (default 1,000,000; needs BENCH_DATABASE_URL
 * on this machine, as a superuser: the rows are read by the server from a file with COPY FROM '<file>';
 * --build-only skips figures 2 and 4, the slowest, and prints figure 3 with each index's build time)
 *
 * A file of N member rows in COPY's text format (the columns an import writes) is written to the
 * temp folder once; each figure is then one COPY (or INSERT … SELECT) in a scratch database
 * migrated like a real site, synchronous_commit off, as the merge runs:
 * 1. COPY into an UNLOGGED table without any index (reading and storing rows: staging's floor);
 * 2. COPY into members with every index, unique key and foreign key maintained row by row;
 * 3. the same after dropping all of them but the primary key, then building them again (the bulk merge);
 * 4. INSERT … SELECT from the unlogged table into members without secondary indexes (the merge's statement shape).
 */
import { createWriteStream, existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest } from '../db/migrate.ts';
import { createDatabase } from '../src/lib/db.ts';
import { withDatabase } from '../src/lib/embedded-postgres.ts';

const rows = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const buildOnly = process.argv.includes('--build-only');
const server = process.env.BENCH_DATABASE_URL;
if (!server) throw new Error('BENCH_DATABASE_URL is needed (a server on this machine: it reads the file itself)');
const file = join(tmpdir(), `hearth-bench-ceiling-${rows}.tsv`);
const COLUMNS = 'id, email, name, status, tier_id, tier_source, source_platform, referral_code, notes, created_at, updated_at, import_id';

async function writeRows(): Promise<void> {
  const out = createWriteStream(file);
  const names = ['Ana', 'Ben', 'Chloé', 'Dmitri', '', 'Ivan'];
  for (let i = 1; i <= rows; i++) {
    const code = (BigInt(i) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    const created = new Date(Date.UTC(2016, 0, 1) + ((i * 7919) % 283_996_800) * 1000).toISOString();
    const line = `${i}\treader${i}@example${i % 7}.com\t${names[i % names.length] || '\\N'}\tpending\t1\tdefault\timport\t${code
      .toString(16)
      .padStart(16, '0')}\t\t${created}\t${created}\t1\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  await chmod(file, 0o644);
}

const name = `hearth_bench_ceiling_${process.pid}`;
const admin = new pg.Client({ connectionString: withDatabase(server, 'postgres') });
await admin.connect();
await admin.query(`create database "${name}"`);
const handle = createDatabase(withDatabase(server, name), { max: 2 });
const client = new pg.Client({ connectionString: withDatabase(server, name) });
const timed = async (statement: string): Promise<number> => {
  const t0 = performance.now();
  await client.query(statement);
  return (performance.now() - t0) / 1000;
};
const rate = (s: number) => Math.round(rows / s);

try {
  if (!existsSync(file)) await writeRows();
  await migrateToLatest(handle.db, handle.pool);
  await client.connect();
  await client.query(`set synchronous_commit = off; set maintenance_work_mem = '256MB'; set work_mem = '256MB'`);
  await client.query(`create unlogged table staging as select ${COLUMNS} from members limit 0`);

  const staging = await timed(`copy staging (${COLUMNS}) from '${file}'`);
  console.log(JSON.stringify({ figure: 'COPY into an unlogged table, no index', rows, seconds: staging, rowsPerSecond: rate(staging) }));

  if (!buildOnly) {
    const indexed = await timed(`copy members (${COLUMNS}) from '${file}'`);
    console.log(
      JSON.stringify({ figure: 'COPY into members, every index and key maintained', rows, seconds: indexed, rowsPerSecond: rate(indexed) }),
    );
    await client.query('truncate members cascade');
  }
  const constraints = await client.query<{ tbl: string; name: string; def: string; kind: string }>(
    `select conrelid::regclass::text as tbl, quote_ident(conname) as name, pg_get_constraintdef(oid) as def, contype as kind
     from pg_constraint where conrelid = 'members'::regclass and contype in ('u', 'f')`,
  );
  const indexes = await client.query<{ name: string; def: string }>(
    `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def from pg_index i
     where i.indrelid = 'members'::regclass and not i.indisprimary
       and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid)`,
  );
  const drop = async () => {
    for (const k of constraints.rows) await client.query(`alter table ${k.tbl} drop constraint ${k.name}`);
    for (const i of indexes.rows) await client.query(`drop index ${i.name}`);
  };
  /** Builds them all again; the seconds of each, by name, go into `each`. */
  const rebuild = async (each: Record<string, number>) => {
    let s = 0;
    const one = async (label: string, statement: string) => {
      const t = await timed(statement);
      each[label] = Number(t.toFixed(2));
      s += t;
    };
    for (const k of constraints.rows.filter((c) => c.kind === 'u'))
      await one(k.name, `alter table ${k.tbl} add constraint ${k.name} ${k.def}`);
    for (const i of indexes.rows) await one(i.name, i.def);
    for (const k of constraints.rows.filter((c) => c.kind === 'f'))
      await one(k.name, `alter table ${k.tbl} add constraint ${k.name} ${k.def}`);
    return s;
  };
  await drop();
  const bare = await timed(`copy members (${COLUMNS}) from '${file}'`);
  const each: Record<string, number> = {};
  const built = await rebuild(each);
  console.log(
    JSON.stringify({
      figure: 'COPY into members with the primary key only, then every index and key built',
      rows,
      copySeconds: bare,
      buildSeconds: built,
      each,
      seconds: bare + built,
      rowsPerSecond: rate(bare + built),
    }),
  );

  if (!buildOnly) {
    await client.query('truncate members cascade');
    await drop();
    const insert = await timed(`insert into members (${COLUMNS}) overriding system value select ${COLUMNS} from staging`);
    const built2 = await rebuild({});
    console.log(
      JSON.stringify({
        figure: 'INSERT … SELECT from the unlogged table into members, primary key only, then the rest built',
        rows,
        insertSeconds: insert,
        buildSeconds: built2,
        seconds: insert + built2,
        rowsPerSecond: rate(insert + built2),
      }),
    );
  }
} finally {
  await client.end().catch(() => undefined);
  await handle.close();
  await admin.query(`drop database if exists "${name}" with (force)`);
  await admin.end();
}
