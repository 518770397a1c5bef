import { unzipSync } from 'fflate';
import { ValidationError } from '../../../lib/errors.ts';

/**
 * Reading an export file: a JSON file, or a zip archive (Substack's export, or Ghost's JSON with
 * its content/images folder). Bounded: the file, each entry, the total unpacked and the number of
 * entries; an entry whose name leaves the archive (`../`, an absolute path, a drive letter) refuses
 * the whole file, so nothing is written from it.
 */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
export const MAX_UNPACKED_BYTES = 300 * 1024 * 1024;
export const MAX_ENTRY_BYTES = 50 * 1024 * 1024;
export const MAX_ENTRIES = 20_000;

export type Archive = Map<string, Uint8Array>;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 0x03 || bytes[2] === 0x05);
}

/** A safe relative name, or a ValidationError. Directory entries come back as null. */
function entryName(raw: string): string | null {
  const name = raw.replace(/\\/g, '/');
  if (name.endsWith('/')) return null;
  const parts = name.split('/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || parts.some((p) => p === '..') || name.includes('\0')) {
    throw new ValidationError(
      `The archive holds an entry outside its folder ("${raw.slice(0, 80)}"); nothing was imported.`,
      'unsafe_archive',
    );
  }
  return parts.filter((p) => p !== '' && p !== '.').join('/');
}

export function readArchive(bytes: Uint8Array): Archive {
  if (bytes.length > MAX_FILE_BYTES)
    throw new ValidationError(`The file is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB.`, 'file_too_large');
  let count = 0;
  let total = 0;
  let unpacked: Record<string, Uint8Array>;
  try {
    unpacked = unzipSync(bytes, {
      filter(file) {
        const name = entryName(file.name);
        if (name === null) return false;
        count += 1;
        total += file.originalSize;
        if (count > MAX_ENTRIES) throw new ValidationError(`The archive holds more than ${MAX_ENTRIES} files.`, 'too_many_entries');
        if (file.originalSize > MAX_ENTRY_BYTES)
          throw new ValidationError(
            `"${name.slice(0, 80)}" in the archive is larger than ${MAX_ENTRY_BYTES / 1024 / 1024} MiB.`,
            'entry_too_large',
          );
        if (total > MAX_UNPACKED_BYTES)
          throw new ValidationError(`The archive unpacks to more than ${MAX_UNPACKED_BYTES / 1024 / 1024} MiB.`, 'archive_too_large');
        return true;
      },
    });
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError('The file is not a readable zip archive.', 'bad_archive');
  }
  const archive: Archive = new Map();
  for (const [raw, data] of Object.entries(unpacked)) {
    const name = entryName(raw);
    // fflate reports the sizes the archive declares; the real ones are checked again here.
    if (name !== null) {
      if (data.length > MAX_ENTRY_BYTES)
        throw new ValidationError(`"${name.slice(0, 80)}" in the archive is too large.`, 'entry_too_large');
      archive.set(name, data);
    }
  }
  return archive;
}

/** The entry at `path`, also when the archive wraps everything in one top folder. */
export function findEntry(archive: Archive, path: string): Uint8Array | undefined {
  const direct = archive.get(path);
  if (direct) return direct;
  for (const [name, data] of archive) if (name.endsWith(`/${path}`) && name.split('/').length === path.split('/').length + 1) return data;
  return undefined;
}
