import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { siteArchive } from './export.ts';

/**
 * The nightly backup (the worker's `site_backup` cron task): the site archive written to
 * BACKUP_DIR as `hearth-site-YYYY-MM-DD.tar.gz`, keeping the newest BACKUP_KEEP. Safe to repeat
 * after kill -9: the archive is written under a hidden temporary name and renamed into place
 * only when complete, a day that already has its archive is skipped, and leftovers of a killed
 * run are removed by the next.
 */
const NAME = /^hearth-site-\d{4}-\d{2}-\d{2}\.tar\.gz$/;

export interface BackupOptions {
  backupDir: string;
  keep: number;
  uploadsDir: string;
  now?: Date;
}

export type BackupOutcome = { written: string; removed: string[] } | { skipped: string; removed: string[] };

export function archiveName(day: Date): string {
  return `hearth-site-${day.toISOString().slice(0, 10)}.tar.gz`;
}

export async function runNightlyBackup(pool: pg.Pool, options: BackupOptions): Promise<BackupOutcome> {
  await mkdir(options.backupDir, { recursive: true });
  const name = archiveName(options.now ?? new Date());
  const final = join(options.backupDir, name);
  // Leftovers of a run that was killed (ours start with a dot and end in .partial).
  for (const entry of await readdir(options.backupDir)) {
    if (entry.startsWith('.hearth-site-') && entry.endsWith('.partial')) await rm(join(options.backupDir, entry), { force: true });
  }
  const exists = await stat(final).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const temporary = join(options.backupDir, `.${name}.${process.pid}.partial`);
    try {
      await pipeline(siteArchive(pool, { uploadsDir: options.uploadsDir }), createWriteStream(temporary));
      await rename(temporary, final);
    } catch (err) {
      await rm(temporary, { force: true });
      throw err;
    }
  }
  const archives = (await readdir(options.backupDir)).filter((n) => NAME.test(n)).sort();
  const removed = archives.slice(0, Math.max(0, archives.length - Math.max(1, options.keep)));
  for (const old of removed) await rm(join(options.backupDir, old), { force: true });
  return exists ? { skipped: final, removed } : { written: final, removed };
}
