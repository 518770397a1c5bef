import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { TAR_END, tarEntry, tarHeader, tarPadding } from '../../lib/tar.ts';
import { archiveTables, HEARTH_VERSION, quoteIdent, SCHEMA_VERSION } from './tables.ts';

/**
 * The whole site as one archive (gzip'd ustar): `tables/<table>/<n>.ndjson` entries of one JSON
 * object per row, `uploads/<path>` for every uploaded file, and `manifest.json` last with the
 * schema version and the counts. Read in one repeatable-read transaction (one consistent
 * snapshot), streamed through COPY; memory holds one chunk of at most CHUNK_BYTES.
 */
export const ARCHIVE_FORMAT = 'hearth-site';
export const ARCHIVE_FORMAT_VERSION = 1;
const CHUNK_BYTES = 4 * 1024 * 1024;

export interface Manifest {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  schemaVersion: string;
  hearthVersion: string;
  createdAt: string;
  tables: Record<string, { rows: number; columns: string[] }>;
  uploads: { files: number; bytes: number };
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    // Hidden names are ours in flight (an import's staging folder) or the system's.
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  let at = buf.indexOf(10);
  while (at !== -1) {
    n++;
    at = buf.indexOf(10, at + 1);
  }
  return n;
}

/** The archive's tar entries, uncompressed. The client must be free for this generator's whole run. */
async function* tarChunks(client: pg.ClientBase, uploadsDir: string, onManifest?: (m: Manifest) => void): AsyncGenerator<Buffer> {
  const manifest: Manifest = {
    format: ARCHIVE_FORMAT,
    formatVersion: ARCHIVE_FORMAT_VERSION,
    schemaVersion: SCHEMA_VERSION,
    hearthVersion: HEARTH_VERSION,
    createdAt: new Date().toISOString(),
    tables: {},
    uploads: { files: 0, bytes: 0 },
  };
  await client.query('begin isolation level repeatable read read only');
  try {
    for (const table of await archiveTables(client)) {
      const order = table.orderBy ? ` order by ${table.orderBy.map(quoteIdent).join(', ')}` : '';
      // CSV with a quote and delimiter that JSON never holds raw: COPY writes each value as is.
      const copy = client.query(
        copyTo(
          `copy (select row_to_json(t) from ${quoteIdent(table.name)} t${order}) to stdout with (format csv, quote e'\\x01', delimiter e'\\x02')`,
        ),
      );
      let rows = 0;
      let part = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = function* (body: Buffer): Generator<Buffer> {
        if (body.length === 0) return;
        rows += countLines(body);
        part++;
        yield* tarEntry(`tables/${table.name}/${String(part).padStart(6, '0')}.ndjson`, body);
      };
      for await (const chunk of copy as AsyncIterable<Buffer>) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= CHUNK_BYTES) {
          const all = Buffer.concat(pending);
          const cut = all.lastIndexOf(10) + 1;
          yield* flush(all.subarray(0, cut));
          pending = cut < all.length ? [all.subarray(cut)] : [];
          pendingBytes = all.length - cut;
        }
      }
      yield* flush(Buffer.concat(pending));
      manifest.tables[table.name] = { rows, columns: table.columns };
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
  const root = resolve(uploadsDir);
  for await (const file of walk(root)) {
    const name = `uploads/${relative(root, file).split(sep).join('/')}`;
    const { size, mtime } = await stat(file);
    yield tarHeader(name, size, mtime);
    let written = 0;
    if (size > 0) {
      for await (const chunk of createReadStream(file, { start: 0, end: size - 1 }) as AsyncIterable<Buffer>) {
        written += chunk.length;
        yield chunk;
      }
    }
    // A file cut short while being read: the header's size still holds.
    if (written < size) yield Buffer.alloc(size - written, 0);
    yield tarPadding(size);
    manifest.uploads.files++;
    manifest.uploads.bytes += size;
  }
  yield* tarEntry('manifest.json', Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  onManifest?.(manifest);
  yield TAR_END;
}

/**
 * The site archive as a gzip stream. Takes one client from the pool for the export's whole
 * run and gives it back at the end (or on error, or when the reader goes away).
 */
export function siteArchive(pool: pg.Pool, options: { uploadsDir: string; onManifest?: (m: Manifest) => void }): Readable {
  const gzip = createGzip({ level: 6 });
  const source = Readable.from(
    (async function* () {
      const client = await pool.connect();
      let finished = false;
      try {
        yield* tarChunks(client, options.uploadsDir, options.onManifest);
        finished = true;
      } finally {
        // A client left mid-COPY (an error, a reader gone) is not fit for reuse.
        client.release(finished ? undefined : true);
      }
    })(),
    { objectMode: false },
  );
  pipeline(source, gzip, () => undefined);
  return gzip;
}
