import { join, resolve, sep } from 'node:path';
import { imageSizeFromFile } from 'image-size/fromFile';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/**
 * The real size of the site's uploaded images (/uploads/…), for the width and height attributes
 * emails need and for og:image:width/height. A size is read from the file's header once (at
 * upload, or the first time an older image is looked at with the uploads folder at hand) and kept
 * in `image_sizes`; files never change, so the process also keeps what it has read.
 */
export interface ImageSize {
  width: number;
  height: number;
}

const UPLOAD_PATH = /^\/uploads\/(\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.(?:png|jpg|gif|webp))$/;
const known = new Map<string, ImageSize>();

/** Reads an uploaded image's size from its header and keeps it; undefined when it cannot be read. */
export async function recordImageSize(db: Kysely<Database>, uploadsDir: string, path: string): Promise<ImageSize | undefined> {
  const m = UPLOAD_PATH.exec(path);
  if (!m) return undefined;
  const root = resolve(uploadsDir);
  const file = join(root, m[1]!);
  if (!file.startsWith(root + sep)) return undefined;
  try {
    const read = await imageSizeFromFile(file);
    if (!read.width || !read.height) return undefined;
    // JPEG orientations 5 to 8 are shown turned a quarter: width and height swap.
    const turned = (read.orientation ?? 1) >= 5;
    const size = turned ? { width: read.height, height: read.width } : { width: read.width, height: read.height };
    await db
      .insertInto('image_sizes')
      .values({ path, ...size })
      .onConflict((oc) => oc.column('path').doNothing())
      .execute();
    remember(path, size);
    return size;
  } catch {
    return undefined;
  }
}

/**
 * The sizes of the given site images that are known; with `uploadsDir`, an image not yet known is
 * read from disk (once). Other addresses (remote images) are left out.
 */
export async function imageSizes(
  db: Kysely<Database>,
  paths: Iterable<string>,
  uploadsDir?: string | undefined,
): Promise<Map<string, ImageSize>> {
  const out = new Map<string, ImageSize>();
  const missing: string[] = [];
  for (const path of new Set(paths)) {
    if (!UPLOAD_PATH.test(path)) continue;
    const hit = known.get(path);
    if (hit) out.set(path, hit);
    else missing.push(path);
  }
  if (missing.length === 0) return out;
  const rows = await db.selectFrom('image_sizes').select(['path', 'width', 'height']).where('path', 'in', missing).execute();
  for (const r of rows) {
    const size = { width: r.width, height: r.height };
    remember(r.path, size);
    out.set(r.path, size);
  }
  if (uploadsDir) {
    for (const path of missing) {
      if (out.has(path)) continue;
      const size = await recordImageSize(db, uploadsDir, path);
      if (size) out.set(path, size);
    }
  }
  return out;
}

/** The site images (/uploads/…) an HTML fragment shows, in order. */
export function imagePathsIn(html: string): string[] {
  return [...html.matchAll(/<img\s[^>]*src="(\/uploads\/[^"]+)"/g)].map((m) => m[1]!);
}

function remember(path: string, size: ImageSize) {
  if (known.size >= 10_000) known.clear();
  known.set(path, size);
}
