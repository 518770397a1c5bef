import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { ValidationError } from './errors.ts';

/**
 * Images for posts, kept on disk under UPLOADS_DIR (default DATA_DIR/uploads) and served from
 * /uploads/… by this site, so no reader page loads an image from elsewhere. The type is read
 * from the file's first bytes, never trusted from its name or the browser; names are random, so
 * files can be cached forever.
 */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

const TYPES: Array<{ ext: string; mime: string; magic: (b: Buffer) => boolean }> = [
  { ext: 'png', mime: 'image/png', magic: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { ext: 'jpg', mime: 'image/jpeg', magic: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  {
    ext: 'gif',
    mime: 'image/gif',
    magic: (b) => b.subarray(0, 6).toString('latin1') === 'GIF87a' || b.subarray(0, 6).toString('latin1') === 'GIF89a',
  },
  {
    ext: 'webp',
    mime: 'image/webp',
    magic: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
];

export function mimeOf(path: string): string | undefined {
  const ext = path.split('.').pop()?.toLowerCase();
  return TYPES.find((t) => t.ext === ext)?.mime;
}

/** Streams an upload to disk (never whole in memory), checking size and type; returns its public path. */
export async function saveImage(uploadsDir: string, stream: Readable): Promise<string> {
  const month = new Date().toISOString().slice(0, 7);
  const dir = join(resolve(uploadsDir), month);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.upload-${randomBytes(8).toString('hex')}`);
  let head = Buffer.alloc(0);
  let size = 0;
  try {
    await new Promise<void>((done, fail) => {
      const out = createWriteStream(temp, { mode: 0o644 });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (head.length < 16) head = Buffer.concat([head, chunk.subarray(0, 16 - head.length)]);
        if (size > MAX_IMAGE_BYTES) {
          stream.destroy();
          out.destroy();
          fail(new ValidationError(`The image is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB.`, 'image_too_large'));
        }
      });
      stream.on('error', fail);
      out.on('error', fail);
      out.on('finish', done);
      stream.pipe(out);
    });
    const type = TYPES.find((t) => t.magic(head));
    if (size === 0) throw new ValidationError('The file is empty.', 'empty_file');
    if (!type) throw new ValidationError('Upload a PNG, JPEG, GIF or WebP image.', 'not_an_image');
    const name = `${randomBytes(12).toString('base64url')}.${type.ext}`;
    await rename(temp, join(dir, name));
    return `/uploads/${month}/${name}`;
  } catch (err) {
    stream.resume();
    await rm(temp, { force: true });
    throw err;
  }
}

/** The file behind a /uploads/… path, or undefined (never anything outside the uploads folder). */
export async function openUpload(
  uploadsDir: string,
  publicPath: string,
): Promise<{ stream: Readable; size: number; mime: string } | undefined> {
  if (!/^\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.(png|jpg|gif|webp)$/.test(publicPath)) return undefined;
  const root = resolve(uploadsDir);
  const file = resolve(root, publicPath);
  if (!file.startsWith(root + sep)) return undefined;
  try {
    const st = await stat(file);
    if (!st.isFile()) return undefined;
    return { stream: createReadStream(file), size: st.size, mime: mimeOf(file)! };
  } catch {
    return undefined;
  }
}

/**
 * The newest uploaded images' public paths, newest first (for the editor's "choose an upload").
 * Names are random, so order comes from the month folders and each file's modification time;
 * only the newest months are read, so a large library costs a few directory listings.
 */
export async function listUploads(uploadsDir: string, limit = 60): Promise<string[]> {
  const root = resolve(uploadsDir);
  let months: string[];
  try {
    months = (await readdir(root))
      .filter((m) => /^\d{4}-\d{2}$/.test(m))
      .sort()
      .reverse();
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const month of months) {
    const names = (await readdir(join(root, month))).filter((n) => /^[A-Za-z0-9_-]{16}\.(png|jpg|gif|webp)$/.test(n));
    const dated = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(root, month, n))).mtimeMs })));
    dated.sort((a, b) => b.t - a.t);
    for (const { n } of dated) {
      found.push(`/uploads/${month}/${n}`);
      if (found.length >= limit) return found;
    }
  }
  return found;
}
