/**
 * Imports, phase 1 — upload and start: what staff's two requests do.
 *
 * - createImport streams the upload into import_chunks (1 MiB pieces, so any worker machine can
 *   read it back and no request holds the file in memory) and reads only the head of the file to
 *   detect the format and show a preview.
 * - startImport checks the staff's options and queues `run_import` (run.ts) in the same transaction.
 *
 * The CSV dialect (csvOptions, sniffDelimiter) is defined here and used again by the run, so the
 * preview staff saw and the rows imported come from the same reading of the file.
 */
import { finished } from 'node:stream/promises';
import { parse, type CsvError, type Options as CsvOptions } from 'csv-parse';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { detectFormat, IMPORT_FORMATS, isImportFormat, mapColumns, type ImportFormat } from './formats.ts';
import type { ImportRecord } from './read.ts';

export interface ImportOptions {
  format?: ImportFormat | 'auto';
  newsletterSlug?: string | null;
  markConfirmed?: boolean;
  attestation?: string | null;
  sendConfirmation?: boolean;
}

/** The size of one import_chunks row. */
export const CHUNK_BYTES = 1024 * 1024;
export const MAX_IMPORT_BYTES = 1024 * 1024 * 1024;
const PREVIEW_RECORDS = 5;
const MAX_COLUMNS = 1000;
const MAX_PREVIEW_CELL = 200;
/** How much of the file's start is checked for binary content and for its delimiter. */
const HEAD_BYTES = 64 * 1024;
/** A record longer than this is a quote left open that swallows the file, not a member. */
const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/**
 * Stores the upload in import_chunks (streamed, 1 MiB pieces, never the whole file in memory),
 * reads only the first rows to detect the format and build the mapping and a preview (first 5
 * records); status 'uploaded'. Throws ValidationError for an empty file, a file with no email
 * column, a non-CSV/binary file, a file over 1 GiB.
 *
 * One transaction: a refused or interrupted upload leaves no row and no chunk behind.
 */
export async function createImport(
  db: Kysely<Database>,
  input: { filename: string; body: AsyncIterable<Uint8Array>; createdBy?: string | null },
): Promise<ImportRecord> {
  const filename = cleanFilename(input.filename);
  return db.transaction().execute(async (trx) => {
    const { id } = await trx
      .insertInto('imports')
      .values({ filename, format: 'generic', created_by: input.createdBy ?? null })
      .returning('id')
      .executeTakeFirstOrThrow();
    const head = new HeadReader();
    const piece = Buffer.allocUnsafe(CHUNK_BYTES);
    let filled = 0;
    let seq = 0;
    let bytes = 0;
    const store = async (data: Buffer) => {
      await trx.insertInto('import_chunks').values({ import_id: id, seq: seq++, data }).execute();
    };
    for await (const data of input.body) {
      bytes += data.byteLength;
      if (bytes > MAX_IMPORT_BYTES) {
        throw new ValidationError(
          'This file is larger than 1 GB. Split it into smaller files and import them one after the other.',
          'import_too_large',
        );
      }
      await head.feed(data);
      for (let offset = 0; offset < data.byteLength;) {
        const n = Math.min(CHUNK_BYTES - filled, data.byteLength - offset);
        piece.set(data.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === CHUNK_BYTES) {
          await store(Buffer.from(piece));
          filled = 0;
        }
      }
    }
    if (filled > 0) await store(Buffer.from(piece.subarray(0, filled)));
    const { headers, preview } = await head.finish();
    // The head reader has checked that some format finds an email column.
    const format = detectFormat(headers) ?? 'generic';
    const mapping = mapColumns(format, headers);
    return trx
      .updateTable('imports')
      .set({
        format,
        headers: JSON.stringify(headers.map(forJson)),
        mapping: JSON.stringify(mapping),
        preview: JSON.stringify(preview.map((record) => record.map((cell) => forJson(clip(cell, MAX_PREVIEW_CELL))))),
        bytes,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/**
 * Reads the head of an upload as it streams past: checks that it is text, finds the delimiter,
 * and keeps the header and the first records. Once it has them it stops parsing, so the rest of
 * a 1 GiB file costs only its storage.
 */
class HeadReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private parser: ReturnType<typeof parse> | undefined;
  private failure: CsvError | Error | undefined;
  private records: string[][] = [];
  private headerChecked = false;
  private enough = false;

  async feed(data: Uint8Array): Promise<void> {
    if (this.enough) return;
    if (this.parser === undefined) {
      this.pending.push(Buffer.from(data));
      this.pendingBytes += data.byteLength;
      if (this.pendingBytes < HEAD_BYTES) return;
      this.start(false);
    } else {
      this.parser.write(data);
    }
    await this.settle();
  }

  async finish(): Promise<{ headers: string[]; preview: string[][] }> {
    if (!this.enough) {
      if (this.parser === undefined) this.start(true);
      const parser = this.parser!;
      parser.end();
      await finished(parser).catch((err: Error) => {
        this.failure ??= err;
      });
      this.check();
    }
    const [headers, ...preview] = this.records;
    if (headers === undefined) throw new ValidationError('The file is empty.', 'import_empty');
    if (preview.length === 0) {
      throw new ValidationError('The file has a header row but no members below it.', 'import_empty');
    }
    return { headers, preview };
  }

  private start(complete: boolean): void {
    const head = Buffer.concat(this.pending);
    this.pending = [];
    if (head.byteLength === 0) throw new ValidationError('The file is empty.', 'import_empty');
    checkText(head.subarray(0, HEAD_BYTES), complete && head.byteLength <= HEAD_BYTES);
    this.parser = parse(csvOptions(sniffDelimiter(head)));
    this.parser.on('data', (record: string[]) => {
      if (this.records.length <= PREVIEW_RECORDS) this.records.push(record);
    });
    this.parser.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.parser.write(head);
  }

  /** Lets the parser's events run, then acts on what it found. */
  private async settle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.check();
  }

  private check(): void {
    // Past the preview, a broken row is the run's to report (as a failed import), with the rest.
    if (this.failure && this.records.length <= PREVIEW_RECORDS) {
      throw new ValidationError(`This file could not be read as CSV: ${csvProblem(this.failure)}.`, 'import_not_csv');
    }
    const headers = this.records[0];
    if (headers !== undefined && !this.headerChecked) {
      this.headerChecked = true;
      if (headers.length > MAX_COLUMNS) {
        throw new ValidationError(
          `The header row has ${headers.length} columns; an import reads at most ${MAX_COLUMNS}.`,
          'import_not_csv',
        );
      }
      // Throws the staff-facing "no email column" error as soon as the header is known.
      mapColumns(detectFormat(headers) ?? 'generic', headers);
    }
    if (this.records.length > PREVIEW_RECORDS && !this.enough) {
      this.enough = true;
      this.parser?.destroy();
    }
  }
}

/**
 * Refuses what is not text: spreadsheets and archives, UTF-16, and bytes that are not UTF-8.
 * Only the head is checked; invalid bytes further down become U+FFFD in the cells they touch.
 */
function checkText(head: Buffer, complete: boolean): void {
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
    throw new ValidationError(
      'This is an Excel workbook or a zip archive, not a CSV file. Export the list as CSV (in Excel: Save As → CSV UTF-8) and upload that.',
      'import_not_csv',
    );
  }
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new ValidationError('This file is UTF-16 text. Save it as CSV UTF-8 and upload it again.', 'import_not_csv');
  }
  if (head.includes(0)) {
    throw new ValidationError('This is not a CSV file: it contains binary data. Export the list as CSV and upload that.', 'import_not_csv');
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !complete });
  } catch {
    throw new ValidationError('This file is not UTF-8 text. Save it as CSV UTF-8 and upload it again.', 'import_not_csv');
  }
}

/** The delimiter of the header line: commas, or semicolons (European spreadsheets), or tabs. */
export function sniffDelimiter(head: Buffer): string {
  const counts = new Map<number, number>([
    [0x2c, 0],
    [0x3b, 0],
    [0x09, 0],
  ]);
  let quoted = false;
  for (let i = 0; i < head.byteLength && i < HEAD_BYTES; i++) {
    const byte = head[i]!;
    if (byte === 0x22) quoted = !quoted;
    else if (!quoted && (byte === 0x0a || byte === 0x0d)) break;
    else if (!quoted && counts.has(byte)) counts.set(byte, counts.get(byte)! + 1);
  }
  const comma = counts.get(0x2c)!;
  const semicolon = counts.get(0x3b)!;
  const tab = counts.get(0x09)!;
  if (tab > comma && tab >= semicolon) return '\t';
  if (semicolon > comma) return ';';
  return ',';
}

export function csvOptions(delimiter: string): CsvOptions {
  return {
    bom: true,
    delimiter,
    // Exports are ragged (trailing empty cells dropped) and hand-edited (a stray quote in a name).
    relax_column_count: true,
    relax_quotes: true,
    // Spreadsheets leave blank lines and rows of empty cells at the end; they are not members.
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    max_record_size: MAX_RECORD_BYTES,
  };
}

export function csvProblem(err: Error): string {
  const e = err as Partial<CsvError> & Error;
  const line = typeof e.lines === 'number' ? e.lines : undefined;
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `a quote opened at or before line ${line ?? '?'} is never closed`;
    case 'CSV_MAX_RECORD_SIZE':
      return `the row at line ${line ?? '?'} is longer than 4 MB (probably a quote left open)`;
    default:
      return line === undefined ? e.message : `${e.message.replace(/\.$/, '')} (line ${line})`;
  }
}

function cleanFilename(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  const name = clip(base.replace(/[\u0000-\u001f\u007f]/g, '').trim(), 255);
  return name === '' ? 'import.csv' : name;
}

export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}

/** jsonb refuses U+0000. */
function forJson(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '') : text;
}

/**
 * Validates options (newsletter exists; markConfirmed requires a non-empty attestation of consent;
 * format valid and has an email column) and moves 'uploaded' → 'queued', enqueuing the job
 * `run_import` {importId} in the same transaction. ConflictError if not 'uploaded'.
 */
export async function startImport(db: Kysely<Database>, importId: string, options: ImportOptions): Promise<ImportRecord> {
  return db.transaction().execute(async (trx) => {
    const record = await lockImport(trx, importId);
    if (record.status !== 'uploaded')
      throw new ConflictError(`This import has already been started (it is ${record.status}).`, 'import_started');

    const requested = options.format ?? 'auto';
    if (requested !== 'auto' && !isImportFormat(requested)) {
      throw new ValidationError(
        `Unknown format "${clip(String(requested), 40)}": choose auto, ${IMPORT_FORMATS.join(', ')}.`,
        'invalid_format',
      );
    }
    const format = requested === 'auto' ? (record.format as ImportFormat) : requested;
    const mapping = mapColumns(format, record.headers);

    let newsletterId: string | null = null;
    const slug = options.newsletterSlug?.trim().toLowerCase();
    if (slug) {
      const newsletter = await trx
        .selectFrom('newsletters')
        .select(['id', 'name', 'archived_at'])
        .where('slug', '=', slug)
        .executeTakeFirst();
      if (!newsletter) throw new ValidationError(`There is no newsletter called "${clip(slug, 60)}".`, 'unknown_newsletter');
      if (newsletter.archived_at)
        throw new ConflictError(`"${newsletter.name}" is archived: it takes no new subscribers.`, 'newsletter_archived');
      newsletterId = newsletter.id;
    }

    const markConfirmed = options.markConfirmed === true;
    const attestation = options.attestation?.trim() ?? '';
    if (markConfirmed && attestation === '') {
      throw new ValidationError(
        'To import these members as confirmed, state how they gave their consent (for example "opted in on our Mailchimp signup form").',
        'attestation_required',
      );
    }
    const sendConfirmation = options.sendConfirmation === true;
    if (markConfirmed && sendConfirmation) {
      throw new ValidationError('Choose one: import the members as confirmed, or send them a confirmation email.', 'conflicting_options');
    }

    const started = await trx
      .updateTable('imports')
      .set({
        status: 'queued',
        format,
        mapping: JSON.stringify(mapping),
        newsletter_id: newsletterId,
        mark_confirmed: markConfirmed,
        attestation: markConfirmed ? clip(attestation, 2000) : null,
        send_confirmation: sendConfirmation,
      })
      .where('id', '=', record.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await enqueue(trx, 'run_import', { importId: record.id }, { jobKey: `run_import:${record.id}`, maxAttempts: 5 });
    return started;
  });
}

async function lockImport(db: Kysely<Database>, importId: string): Promise<ImportRecord> {
  const record = /^\d{1,18}$/.test(importId)
    ? await db.selectFrom('imports').selectAll().where('id', '=', importId).forUpdate().executeTakeFirst()
    : undefined;
  if (!record) throw new NotFoundError('There is no such import.', 'import_not_found');
  return record;
}

/** Removes an import that was never started (its file goes with it): an API upload refused at start. */
export async function discardUploadedImport(db: Kysely<Database>, importId: string): Promise<void> {
  await db.deleteFrom('imports').where('id', '=', importId).where('status', '=', 'uploaded').execute();
}
