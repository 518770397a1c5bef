import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type pg from 'pg';
import { readTar } from '../../lib/tar.ts';
import { siteArchive, type Manifest } from './export.ts';

/**
 * The archive written to a file: under a temporary name beside it, renamed when complete, so a
 * killed export never leaves a file that looks whole. Returns the manifest it wrote.
 */
export async function exportSiteToFile(pool: pg.Pool, file: string, options: { uploadsDir: string }): Promise<Manifest> {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.partial`);
  let manifest: Manifest | undefined;
  try {
    await pipeline(siteArchive(pool, { ...options, onManifest: (m) => (manifest = m) }), createWriteStream(temporary));
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  return manifest!;
}

/** The manifest of an archive (read to the end: it is the last entry). */
export async function readManifest(file: string): Promise<Manifest> {
  const source = createReadStream(file).pipe(createGunzip());
  for await (const entry of readTar(source as AsyncIterable<Buffer>)) {
    if (entry.name !== 'manifest.json') continue;
    const parts: Buffer[] = [];
    for await (const chunk of entry.body) parts.push(chunk);
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as Manifest;
  }
  throw new Error(`${file} has no manifest.json`);
}
