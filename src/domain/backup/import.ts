import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type pg from 'pg';
import { ValidationError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import { readTar, TarError, type TarEntry } from '../../lib/tar.ts';
import { ARCHIVE_FORMAT, type Manifest } from './export.ts';
import { archiveTables, quoteIdent, SCHEMA_VERSION, schemaIndex } from './tables.ts';

/**
 * `import site`: reproduces a site from its archive (export.ts). Two passes over the file: the
 * first checks everything (gzip, tar checksums, manifest, schema version, every table's row
 * count, the upload names) and writes nothing; the second loads it in one transaction (empty
 * the tables, load them parents first, reset the sequences) and only after the commit moves
 * the uploads into UPLOADS_DIR. A refusal or a failure leaves the site as it was.
 */
const BATCH_ROWS = 5_000;
const BATCH_BYTES = 4 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const TABLE_ENTRY = /^tables\/([a-z_][a-z0-9_]*)\/\d{1,9}\.ndjson$/;
const UPLOAD_ENTRY = /^uploads\/((?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*)$/;

export interface ImportOptions {
  uploadsDir: string;
  /** Replace a site that already has members, newsletters or posts. */
  force?: boolean;
}

export interface ImportResult {
  manifest: Manifest;
  rows: number;
  uploads: number;
  skippedTables: string[];
}

function refuse(message: string): never {
  throw new ValidationError(`archive refused: ${message}; nothing was changed`, 'archive_refused');
}

/** A read error as the refusal it means (bad gzip, bad tar, no file); anything else as is. */
function archiveError(err: unknown, file: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof TarError) refuse(`damaged archive (${err.message})`);
  if (code === 'ENOENT') throw new ValidationError(`no such file: ${file}`);
  if (typeof code === 'string' && code.startsWith('Z_')) refuse(`damaged archive (not a complete gzip file: ${(err as Error).message})`);
  throw err;
}

async function* entriesOf(file: string): AsyncGenerator<TarEntry> {
  const gunzip = createGunzip();
  const source = createReadStream(file);
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  try {
    yield* readTar(gunzip as AsyncIterable<Buffer>);
  } catch (err) {
    archiveError(err, file);
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}

async function readAll(body: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) refuse('the manifest is too large');
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Pass one: the whole archive read and checked; returns its manifest. Writes nothing. */
export async function verifyArchive(file: string): Promise<Manifest> {
  try {
    return await verify(file);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    archiveError(err, file);
  }
}

async function verify(file: string): Promise<Manifest> {
  const rows = new Map<string, number>();
  let files = 0;
  let bytes = 0;
  let manifest: Manifest | undefined;
  for await (const entry of entriesOf(file)) {
    const table = TABLE_ENTRY.exec(entry.name)?.[1];
    if (table) {
      let n = 0;
      let last = 10;
      for await (const chunk of entry.body) {
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) n++;
        if (chunk.length > 0) last = chunk[chunk.length - 1]!;
      }
      if (last !== 10) refuse(`damaged archive (${entry.name} ends in the middle of a row)`);
      rows.set(table, (rows.get(table) ?? 0) + n);
    } else if (UPLOAD_ENTRY.test(entry.name)) {
      files++;
      bytes += entry.size;
    } else if (entry.name === 'manifest.json') {
      try {
        manifest = JSON.parse((await readAll(entry.body, MAX_MANIFEST_BYTES)).toString('utf8')) as Manifest;
      } catch (err) {
        if (err instanceof ValidationError) throw err;
        refuse('damaged archive (manifest.json is not JSON)');
      }
    } else {
      refuse(`unexpected entry "${entry.name}" (not a Hearth site archive)`);
    }
  }
  if (!manifest || manifest.format !== ARCHIVE_FORMAT || typeof manifest.tables !== 'object' || manifest.tables === null) {
    refuse('not a Hearth site archive (no manifest.json)');
  }
  if (typeof manifest.schemaVersion !== 'string' || schemaIndex(manifest.schemaVersion) === -1) {
    refuse(`it was written at schema ${String(manifest.schemaVersion)}, newer than this Hearth (${SCHEMA_VERSION}); upgrade Hearth first`);
  }
  for (const [table, counted] of rows) {
    if (!(table in manifest.tables)) refuse(`damaged archive (rows of ${table}, a table the manifest does not list)`);
    const expected = manifest.tables[table]!.rows;
    if (counted !== expected) refuse(`damaged archive (${table}: ${counted} rows, the manifest says ${expected})`);
  }
  for (const [table, { rows: expected }] of Object.entries(manifest.tables)) {
    if (expected > 0 && !rows.has(table)) refuse(`damaged archive (${table}: no rows, the manifest says ${expected})`);
  }
  if (manifest.uploads?.files !== files || manifest.uploads?.bytes !== bytes) {
    refuse(`damaged archive (${files} uploads, the manifest says ${manifest.uploads?.files})`);
  }
  return manifest;
}

/** A site with members, newsletters or posts is not replaced without --force. */
export async function siteHasContent(client: Pick<pg.ClientBase, 'query'>): Promise<boolean> {
  const found = await client.query(
    `select exists (select 1 from members) or exists (select 1 from newsletters) or exists (select 1 from posts) as found`,
  );
  return Boolean(found.rows[0]?.found);
}

async function moveInto(from: string, to: string): Promise<number> {
  let moved = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      await mkdir(target, { recursive: true });
      moved += await moveInto(source, target);
    } else {
      await rename(source, target);
      moved++;
    }
  }
  return moved;
}

export async function importSite(pool: pg.Pool, file: string, options: ImportOptions): Promise<ImportResult> {
  const manifest = await verifyArchive(file);
  const client = await pool.connect();
  const uploadsDir = resolve(options.uploadsDir);
  const staging = join(uploadsDir, `.restore-${randomBytes(6).toString('hex')}`);
  let committed = false;
  let clean = false;
  try {
    if (!options.force && (await siteHasContent(client))) {
      refuse('this site already has members, newsletters or posts (pass --force to replace them)');
    }
    await client.query('begin');
    // Foreign keys and triggers off while loading, where the role may (a superuser, as the
    // embedded default's is); otherwise the parents-first order keeps every key satisfied.
    await client.query('savepoint replica');
    try {
      await client.query('set local session_replication_role = replica');
      await client.query('release savepoint replica');
    } catch {
      await client.query('rollback to savepoint replica');
    }
    const tables = await archiveTables(client);
    const target = new Map(tables.map((t) => [t.name, t]));
    await client.query(`truncate ${tables.map((t) => quoteIdent(t.name)).join(', ')} restart identity cascade`);

    const loaded = new Map<string, number>();
    const skipped = new Set<string>();
    let uploads = 0;
    for await (const entry of entriesOf(file)) {
      const tableName = TABLE_ENTRY.exec(entry.name)?.[1];
      if (tableName) {
        const table = target.get(tableName);
        if (!table) {
          skipped.add(tableName);
          continue;
        }
        const archived = new Set(manifest.tables[tableName]!.columns);
        const columns = table.writable
          .filter((c) => archived.has(c))
          .map(quoteIdent)
          .join(', ');
        const insert = `insert into ${quoteIdent(table.name)} (${columns}) overriding system value select ${columns} from json_populate_recordset(null::${quoteIdent(table.name)}, $1::json)`;
        let batch: Buffer[] = [];
        let batchBytes = 0;
        const flush = async () => {
          if (batch.length === 0) return;
          const body = Buffer.concat([
            Buffer.from('['),
            ...batch.flatMap((line, i) => (i === 0 ? [line] : [Buffer.from(','), line])),
            Buffer.from(']'),
          ]);
          const result = await client.query(insert, [body.toString('utf8')]);
          loaded.set(tableName, (loaded.get(tableName) ?? 0) + (result.rowCount ?? 0));
          batch = [];
          batchBytes = 0;
        };
        let rest = Buffer.alloc(0);
        for await (const chunk of entry.body) {
          const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
          let start = 0;
          for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, start)) {
            const line = data.subarray(start, at);
            start = at + 1;
            batch.push(Buffer.from(line));
            batchBytes += line.length;
            if (batch.length >= BATCH_ROWS || batchBytes >= BATCH_BYTES) await flush();
          }
          rest = Buffer.from(data.subarray(start));
        }
        await flush();
      } else if (UPLOAD_ENTRY.test(entry.name)) {
        const path = join(staging, entry.name.slice('uploads/'.length));
        await mkdir(dirname(path), { recursive: true });
        await pipeline(entry.body, createWriteStream(path));
        uploads++;
      }
    }
    for (const [name, { rows }] of Object.entries(manifest.tables)) {
      if (!target.has(name)) continue;
      if ((loaded.get(name) ?? 0) !== rows) refuse(`damaged archive (${name}: loaded ${loaded.get(name) ?? 0} rows of ${rows})`);
    }
    // Every sequence owned by a column goes on after the largest value loaded.
    const sequences = await client.query<{ seq: string; tbl: string; col: string }>(`
      select s.oid::regclass::text as seq, t.relname as tbl, a.attname as col
        from pg_depend d
        join pg_class s on s.oid = d.objid and s.relkind = 'S'
        join pg_class t on t.oid = d.refobjid
        join pg_namespace n on n.oid = t.relnamespace
        join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
       where n.nspname = 'public' and d.deptype in ('a', 'i') and d.classid = 'pg_class'::regclass`);
    for (const s of sequences.rows) {
      await client.query(
        `select setval($1::regclass, coalesce((select max(${quoteIdent(s.col)}) from ${quoteIdent(s.tbl)}), 0) + 1, false)`,
        [s.seq],
      );
    }
    await client.query('commit');
    committed = true;
    clean = true;
    const rows = [...loaded.values()].reduce((a, b) => a + b, 0);
    if (uploads > 0) {
      await mkdir(uploadsDir, { recursive: true });
      await moveInto(staging, uploadsDir);
    }
    if (skipped.size > 0) log.warn('archive tables this schema does not have were skipped', { tables: [...skipped].join(', ') });
    return { manifest, rows, uploads, skippedTables: [...skipped] };
  } catch (err) {
    if (!committed) {
      clean = await client.query('rollback').then(
        () => true,
        () => false,
      );
    }
    throw err;
  } finally {
    client.release(clean ? undefined : true);
    await rm(staging, { recursive: true, force: true });
  }
}
