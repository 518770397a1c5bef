/**
 * Imports, phase 4 — reading: an import's record, the recent ones, its progress as the API
 * shows it, and the rejection report.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, ImportsTable } from '../../../db/types.ts';
import { NotFoundError } from '../../lib/errors.ts';

export type ImportRecord = Selectable<ImportsTable>;

const REJECTION_PAGE = 1000;

export async function getImport(db: Kysely<Database>, importId: string): Promise<ImportRecord> {
  const record = /^\d{1,18}$/.test(importId)
    ? await db.selectFrom('imports').selectAll().where('id', '=', importId).executeTakeFirst()
    : undefined;
  if (!record) throw new NotFoundError('There is no such import.', 'import_not_found');
  return record;
}

export async function listImports(db: Kysely<Database>, limit = 50): Promise<ImportRecord[]> {
  const n = Math.min(200, Math.max(1, Math.floor(Number.isFinite(limit) ? limit : 50)));
  return db.selectFrom('imports').selectAll().orderBy('id', 'desc').limit(n).execute();
}

/**
 * The rejection report as CSV lines (header first: row,email,reason), streamed from the database
 * in pages, never all in memory. Throws NotFoundError for an unknown import before any line, so a
 * download can answer 404 instead of starting a file.
 */
export async function rejectionsCsv(db: Kysely<Database>, importId: string): Promise<AsyncIterable<string>> {
  const record = await getImport(db, importId);
  return rejectionLines(db, record.id);
}

async function* rejectionLines(db: Kysely<Database>, importId: string): AsyncIterable<string> {
  yield 'row,email,reason\n';
  let after = 0;
  for (;;) {
    const page = await db
      .selectFrom('import_rejections')
      .select(['row_number', 'email', 'reason'])
      .where('import_id', '=', importId)
      .where('row_number', '>', after)
      .orderBy('row_number')
      .limit(REJECTION_PAGE)
      .execute();
    for (const r of page) yield `${r.row_number},${csvCell(r.email ?? '')},${csvCell(r.reason)}\n`;
    if (page.length < REJECTION_PAGE) return;
    after = page[page.length - 1]!.row_number;
  }
}

/** One existing member an import changes (or, previewed, will change). */
export interface ImportChange {
  email: string;
  member_id: string | null;
  change: string;
  detail: string | null;
}

/** The changes to existing members, a page at a time in address order (keyset on the email). */
export async function listChanges(
  db: Kysely<Database>,
  importId: string,
  options: { after?: string | null; limit?: number } = {},
): Promise<{ changes: ImportChange[]; next: string | null }> {
  const record = await getImport(db, importId);
  return changesPage(db, record.id, options);
}

async function changesPage(
  db: Kysely<Database>,
  importId: string,
  options: { after?: string | null; limit?: number },
): Promise<{ changes: ImportChange[]; next: string | null }> {
  const limit = Math.min(1000, Math.max(1, Math.floor(options.limit ?? 100)));
  const rows = await db
    .selectFrom('import_changes')
    .select(['email', 'member_id', 'change', 'detail'])
    .where('import_id', '=', importId)
    .$if(Boolean(options.after), (q) => q.where('email', '>', options.after!))
    .orderBy('email')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  return { changes: page, next: rows.length > limit ? page.at(-1)!.email : null };
}

/** The changes report as CSV (email,change,detail), streamed in pages; NotFoundError before any line. */
export async function changesCsv(db: Kysely<Database>, importId: string): Promise<AsyncIterable<string>> {
  const record = await getImport(db, importId);
  return changeLines(db, record.id);
}

async function* changeLines(db: Kysely<Database>, importId: string): AsyncIterable<string> {
  yield 'email,change,detail\n';
  let after: string | null = null;
  for (;;) {
    const page: { changes: ImportChange[]; next: string | null } = await changesPage(db, importId, { after, limit: REJECTION_PAGE });
    for (const c of page.changes) yield `${csvCell(c.email)},${csvCell(c.change)},${csvCell(c.detail ?? '')}\n`;
    if (page.next === null) return;
    after = page.next;
  }
}

/** A CSV cell, quoted when needed; a leading = + - @ is defused so a spreadsheet shows it as text. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * The API shape of DESIGN.md: {"id","status","rows","imported","updated","rejected"} plus
 * "format","filename","progress" (0..1),"error","created_at","finished_at". Reading the file counts
 * for the first 90% of progress; the merge, one statement after another, is the last 10%.
 */
export function importView(record: ImportRecord): Record<string, unknown> {
  const bytes = Number(record.bytes);
  const done = Number(record.bytes_done);
  const progress =
    record.status === 'done' || record.status === 'previewed'
      ? 1
      : record.status === 'running' || record.status === 'failed'
        ? bytes > 0
          ? Math.min(0.9, (0.9 * done) / bytes)
          : 0
        : 0;
  return {
    id: record.id,
    status: record.status,
    rows: record.rows,
    imported: record.imported,
    updated: record.updated,
    rejected: record.rejected,
    format: record.format,
    filename: record.filename,
    progress: Math.round(progress * 1000) / 1000,
    error: record.error,
    created_at: record.created_at.toISOString(),
    finished_at: record.finished_at ? record.finished_at.toISOString() : null,
  };
}
