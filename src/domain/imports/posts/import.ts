import type { Kysely } from 'kysely';
import type { Database } from '../../../../db/types.ts';
import { ValidationError } from '../../../lib/errors.ts';
import { isZip, MAX_FILE_BYTES, readArchive, type Archive } from './archive.ts';
import { ghostHtml, ghostImages, readGhost } from './ghost.ts';
import { readSubstack, substackImages } from './substack.ts';
import type { PostImportReport } from './types.ts';
import { writePosts } from './write.ts';

export type { PostImportReport } from './types.ts';
export { findImportedRedirect } from './redirects.ts';

export type PostImportFormat = 'ghost' | 'substack';

/**
 * Imports posts from a Ghost JSON export (a .json, or a .zip holding it and content/images) or a
 * Substack export archive (.zip). The whole file is read and checked before anything is written:
 * a file that cannot be read says why and writes nothing; a post that cannot be imported is
 * listed with its reason and the others go in.
 */
export async function importPosts(
  db: Kysely<Database>,
  uploadsDir: string,
  file: Uint8Array,
  format?: PostImportFormat,
): Promise<PostImportReport> {
  if (file.length === 0) throw new ValidationError('The file is empty.', 'empty_file');
  if (file.length > MAX_FILE_BYTES)
    throw new ValidationError(`The file is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB.`, 'file_too_large');
  let archive: Archive | null = null;
  let json: unknown = undefined;
  if (isZip(file)) {
    archive = readArchive(file);
  } else {
    json = parseJson(file);
  }
  const detected: PostImportFormat =
    format ?? (archive ? ([...archive.keys()].some((k) => k === 'posts.csv' || k.endsWith('/posts.csv')) ? 'substack' : 'ghost') : 'ghost');
  const report: PostImportReport = {
    format: detected,
    created: [],
    updated: [],
    skipped: [],
    imagesCopied: 0,
    imagesExternal: [],
    redirects: 0,
    notes: [],
  };

  if (detected === 'substack') {
    if (!archive) throw new ValidationError('A Substack export is a .zip archive (posts.csv and the posts folder).', 'not_substack_export');
    const { posts, skipped } = readSubstack(archive);
    report.skipped.push(...skipped);
    await writePosts(db, uploadsDir, posts, substackImages(archive), report);
    return report;
  }

  if (archive) {
    const entry = [...archive.entries()].find(
      ([name]) => name.endsWith('.json') && !name.split('/').some((p) => p.startsWith('.') || p === '__MACOSX'),
    );
    if (!entry) throw new ValidationError('The archive holds neither a Ghost export (.json) nor a Substack posts.csv.', 'unknown_archive');
    json = parseJson(entry[1]);
  }
  const posts = readGhost(json).map((p) => ({
    ...p,
    html: ghostHtml(p.html),
    featureImage: p.featureImage ? ghostHtml(p.featureImage) : null,
  }));
  await writePosts(db, uploadsDir, posts, ghostImages(archive), report);
  return report;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(
      Buffer.from(bytes)
        .toString('utf8')
        .replace(/^\uFEFF/, ''),
    );
  } catch {
    throw new ValidationError('The file is neither JSON (a Ghost export) nor a zip archive (a Substack export).', 'not_json');
  }
}

/** The report as lines of text, for the CLI. */
export function formatPostReport(r: PostImportReport): string {
  const out: string[] = [];
  out.push(
    `posts import (${r.format}): ${r.created.length} created, ${r.updated.length} updated, ${r.skipped.length} skipped; ` +
      `${r.imagesCopied} images copied, ${r.imagesExternal.length} kept as external links; ${r.redirects} redirects`,
  );
  for (const p of r.created) out.push(`  created  /posts/${p.slug}  ${p.title}`);
  for (const p of r.updated) out.push(`  updated  /posts/${p.slug}  ${p.title}`);
  for (const s of r.skipped) out.push(`  skipped  ${s.source}: ${s.reason}`);
  for (const i of r.imagesExternal) out.push(`  external image in /posts/${i.slug}: ${i.url}`);
  for (const n of r.notes) out.push(`  note: ${n}`);
  return out.join('\n') + '\n';
}
