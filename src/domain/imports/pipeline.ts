/**
 * CSV member imports, the I/O part: upload → start → run (a job) → report. The pure rules (which
 * service a file came from, one record → one member or a rejection) live in formats.ts.
 *
 * - createImport streams the upload into import_chunks (1 MiB pieces, so any worker machine can
 *   read it back and no request holds the file in memory) and reads only the head of the file to
 *   detect the format and show a preview.
 * - startImport checks the staff's options and queues `run_import` in the same transaction.
 * - runImport streams the chunks back through csv-parse and mapRow into the UNLOGGED staging
 *   table import_rows with COPY, then merges staging into members in ONE set-based transaction:
 *   an import is all or nothing, and a crash anywhere before that commit is repaired by running
 *   again from the chunks. See README.md for the rules of the merge.
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parse, type CsvError, type Options as CsvOptions } from 'csv-parse';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient, type Selectable, type Transaction } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database, ImportsTable } from '../../../db/types.ts';
import { errorFields, log } from '../../lib/log.ts';
import { enqueue } from '../../lib/queue.ts';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { detectFormat, IMPORT_FORMATS, isImportFormat, mapColumns, mapRow, type ColumnMapping, type ImportedMember, type ImportFormat } from './formats.ts';

export type ImportRecord = Selectable<ImportsTable>;

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
 * COPY batches. About 1 MB: per-statement overhead is already negligible (parsing, not COPY, is
 * the slow side), and what a batch keeps alive until it is written stays out of V8's old space.
 */
const COPY_BATCH_CHARS = 1024 * 1024;
const COPY_BATCH_REJECTIONS = 10_000;
const REJECTION_PAGE = 1000;
/** pg_advisory_lock(key1, key2) namespace for "this import is being run". */
const RUN_LOCK = 0x48_49_4d; // 'HIM': Hearth IMport

// ---------------------------------------------------------------------------------------------
// Upload

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
        throw new ValidationError('This file is larger than 1 GB. Split it into smaller files and import them one after the other.', 'import_too_large');
      }
      await head.feed(data);
      for (let offset = 0; offset < data.byteLength; ) {
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
        throw new ValidationError(`The header row has ${headers.length} columns; an import reads at most ${MAX_COLUMNS}.`, 'import_not_csv');
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
    throw new ValidationError('This is an Excel workbook or a zip archive, not a CSV file. Export the list as CSV (in Excel: Save As → CSV UTF-8) and upload that.', 'import_not_csv');
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
  const counts = new Map<number, number>([[0x2c, 0], [0x3b, 0], [0x09, 0]]);
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

function csvOptions(delimiter: string): CsvOptions {
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

function csvProblem(err: Error): string {
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

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}

/** jsonb refuses U+0000. */
function forJson(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '') : text;
}

// ---------------------------------------------------------------------------------------------
// Start

/**
 * Validates options (newsletter exists; markConfirmed requires a non-empty attestation of consent;
 * format valid and has an email column) and moves 'uploaded' → 'queued', enqueuing the job
 * `run_import` {importId} in the same transaction. ConflictError if not 'uploaded'.
 */
export async function startImport(db: Kysely<Database>, importId: string, options: ImportOptions): Promise<ImportRecord> {
  return db.transaction().execute(async (trx) => {
    const record = await lockImport(trx, importId);
    if (record.status !== 'uploaded') throw new ConflictError(`This import has already been started (it is ${record.status}).`, 'import_started');

    const requested = options.format ?? 'auto';
    if (requested !== 'auto' && !isImportFormat(requested)) {
      throw new ValidationError(`Unknown format "${clip(String(requested), 40)}": choose auto, ${IMPORT_FORMATS.join(', ')}.`, 'invalid_format');
    }
    const format = requested === 'auto' ? (record.format as ImportFormat) : requested;
    const mapping = mapColumns(format, record.headers);

    let newsletterId: string | null = null;
    const slug = options.newsletterSlug?.trim().toLowerCase();
    if (slug) {
      const newsletter = await trx.selectFrom('newsletters').select('id').where('slug', '=', slug).executeTakeFirst();
      if (!newsletter) throw new ValidationError(`There is no newsletter called "${clip(slug, 60)}".`, 'unknown_newsletter');
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

// ---------------------------------------------------------------------------------------------
// Run

interface MergeCounts {
  imported: number;
  updated: number;
  rejected: number;
  pending: number;
}

/**
 * The job: idempotent (a retry after a crash clears this import's staging and rejections and
 * starts over). Streams chunks from Postgres → csv-parse → mapRow → COPY into import_rows in large
 * batches, recording rejections with their reason; updates bytes_done/rows as it goes; then ONE
 * set-based upsert transaction. Marks 'done' with its counts, or 'failed' with a human-readable
 * error. When sendConfirmation is set and new members are pending, enqueues `import_confirmations`.
 *
 * Needs two connections from the pool: one held for the run (COPY, the merge, an advisory lock
 * so two runners of one import take turns) and one to read the chunks alongside. A lost
 * connection is rethrown, leaving the import 'running' for the job's retry; any other error
 * marks it 'failed'. An import already 'done' or 'failed' is left alone.
 */
export async function runImport(db: Kysely<Database>, pool: pg.Pool, importId: string): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  const conn = pinnedKysely(client);
  try {
    await sql`select pg_advisory_lock(${RUN_LOCK}, ${lockKey(importId)})`.execute(conn);
    try {
      await runLocked(db, conn, client, importId);
    } finally {
      if (!broken) await sql`select pg_advisory_unlock(${RUN_LOCK}, ${lockKey(importId)})`.execute(conn).catch(() => undefined);
    }
  } catch (err) {
    if (isConnectionLost(err)) broken = true;
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

async function runLocked(db: Kysely<Database>, conn: Kysely<Database>, client: pg.PoolClient, importId: string): Promise<void> {
  const record = await getImport(conn, importId);
  if (record.status === 'done' || record.status === 'failed') return;
  if (record.status === 'uploaded') throw new ConflictError('This import has not been started.', 'import_not_started');

  await conn
    .updateTable('imports')
    .set({ status: 'running', started_at: new Date(), bytes_done: 0, rows: 0, imported: 0, updated: 0, rejected: 0, error: null })
    .where('id', '=', record.id)
    .execute();
  // A crashed earlier attempt left staging and rejections behind; so may finished imports whose
  // clean-up was cut short.
  await conn.deleteFrom('import_rows').where('import_id', '=', record.id).execute();
  await conn.deleteFrom('import_rejections').where('import_id', '=', record.id).execute();
  await sql`delete from import_rows where import_id in (select id from imports where status in ('done', 'failed'))`.execute(conn);

  try {
    const started = performance.now();
    const rows = await stageRows(db, conn, client, record);
    const staged = performance.now();
    const counts = await mergeStagedRows(conn, record, rows);
    const merged = performance.now();
    await conn.deleteFrom('import_rows').where('import_id', '=', record.id).execute();
    log.info('import done', {
      importId: record.id,
      rows,
      ...counts,
      stageSeconds: Math.round(staged - started) / 1000,
      mergeSeconds: Math.round(merged - staged) / 1000,
    });
  } catch (err) {
    if (isConnectionLost(err)) throw err;
    const message = err instanceof DomainError ? err.message : 'The import stopped because of an unexpected error (the server log has the details). Nothing was imported: upload the file again, and contact support if it happens again.';
    // A file staff must fix is not a fault of the server.
    (err instanceof DomainError ? log.info : log.error)('import failed', { importId: record.id, ...errorFields(err) });
    // Through the pool: this connection may be unusable after the error.
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('imports')
        .set({ status: 'failed', error: message, finished_at: new Date() })
        .where('id', '=', record.id)
        .execute();
      await trx.deleteFrom('import_rejections').where('import_id', '=', record.id).execute();
      await trx.deleteFrom('import_chunks').where('import_id', '=', record.id).execute();
    });
    await db.deleteFrom('import_rows').where('import_id', '=', record.id).execute();
  }
}

/**
 * Parses the stored file into import_rows and import_rejections; returns the number of data rows.
 * Row numbers are those a spreadsheet shows: the header is row 1, the first member row 2.
 * Parsing (this process) and COPY (the database) overlap: one batch is written while the next is
 * parsed.
 */
async function stageRows(db: Kysely<Database>, conn: Kysely<Database>, client: pg.PoolClient, record: ImportRecord): Promise<number> {
  const format = record.format;
  const mapping = record.mapping as unknown as ColumnMapping;
  if (!isImportFormat(format) || typeof mapping.email !== 'number') throw new Error(`import ${record.id} has no valid format or mapping`);
  const first = await readChunk(db, record.id, 0);
  if (!first) throw new ValidationError('The uploaded file is no longer stored. Upload it again.', 'import_file_missing');

  let bytesRead = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    let next: Buffer | undefined = first;
    for (let seq = 1; next !== undefined; seq++) {
      bytesRead += next.byteLength;
      yield next;
      next = await readChunk(db, record.id, seq);
    }
  }
  const source = Readable.from(chunks(), { highWaterMark: 1 });
  const parser = parse(csvOptions(sniffDelimiter(first)));
  source.on('error', (err) => parser.destroy(err));
  source.pipe(parser);

  const prefix = `${record.id}\t`;
  const now = new Date();
  let rowLines: string[] = [];
  let rejectionLines: string[] = [];
  let pendingChars = 0;
  let records = 0;
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const rows = rowLines;
    const rejections = rejectionLines;
    const progress = { bytes: bytesRead, rows: Math.max(0, records - 1) };
    rowLines = [];
    rejectionLines = [];
    pendingChars = 0;
    await writing;
    writing = writeBatch(conn, client, record.id, rows, rejections, progress);
    // Awaited at the next flush; until then a failure must not count as unhandled.
    writing.catch(() => undefined);
  };

  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      records++;
      if (records === 1) continue; // the header row, already mapped at upload
      const result = mapRow(format, mapping, cells, { now });
      if (result.ok) {
        const line = prefix + stagingLine(records, result.member);
        rowLines.push(line);
        pendingChars += line.length;
      } else {
        rejectionLines.push(`${prefix}${records}\t${copyText(result.email === null ? null : clip(result.email, 320))}\t${copyText(result.reason)}\n`);
      }
      if (pendingChars >= COPY_BATCH_CHARS || rejectionLines.length >= COPY_BATCH_REJECTIONS) await flush();
    }
    await flush();
    await writing;
  } catch (err) {
    await writing.catch(() => undefined);
    if (err instanceof Error && typeof (err as Partial<CsvError>).code === 'string' && (err as CsvError).code.startsWith('CSV_')) {
      throw new ValidationError(`The file could not be read as CSV: ${csvProblem(err)}. Nothing was imported.`, 'import_not_csv');
    }
    throw err;
  } finally {
    source.destroy();
  }
  const rows = Math.max(0, records - 1);
  await conn.updateTable('imports').set({ bytes_done: bytesRead, rows }).where('id', '=', record.id).execute();
  return rows;
}

async function readChunk(db: Kysely<Database>, importId: string, seq: number): Promise<Buffer | undefined> {
  const row = await db.selectFrom('import_chunks').select('data').where('import_id', '=', importId).where('seq', '=', seq).executeTakeFirst();
  return row?.data;
}

async function writeBatch(
  conn: Kysely<Database>,
  client: pg.PoolClient,
  importId: string,
  rows: string[],
  rejections: string[],
  progress: { bytes: number; rows: number },
): Promise<void> {
  if (rows.length > 0) {
    await copyInto(client, 'copy import_rows (import_id, row_number, email, name, status, created_at, labels, utm_source, utm_medium, utm_campaign, referrer) from stdin', rows);
  }
  if (rejections.length > 0) await copyInto(client, 'copy import_rejections (import_id, row_number, email, reason) from stdin', rejections);
  await conn.updateTable('imports').set({ bytes_done: progress.bytes, rows: progress.rows }).where('id', '=', importId).execute();
}

async function copyInto(client: pg.PoolClient, statement: string, lines: string[]): Promise<void> {
  const stream = client.query(copyFrom(statement));
  stream.end(lines.join(''));
  await finished(stream);
}

/** One import_rows line in COPY's text format (the import_id column is prefixed by the caller). */
function stagingLine(rowNumber: number, m: ImportedMember): string {
  return `${rowNumber}\t${copyText(m.email)}\t${copyText(m.name)}\t${m.status}\t${m.createdAt === null ? '\\N' : m.createdAt.toISOString()}\t${
    m.labels.length === 0 ? '{}' : copyText(arrayLiteral(m.labels))
  }\t${copyText(m.utmSource)}\t${copyText(m.utmMedium)}\t${copyText(m.utmCampaign)}\t${copyText(m.referrer)}\n`;
}

const COPY_SPECIAL = /[\\\t\n\r\u0000]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\u0000': '' };

/** A value in COPY's text format: \N for null; backslash, tab and line breaks escaped; NUL dropped (text cannot hold it). */
function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r\u0000]/g, (c) => COPY_ESCAPES[c]!) : value;
}

function arrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/**
 * The merge, in one transaction. Statements, not rows: a temp table holds the file's first row of
 * each address with its member (if any), and every write is an INSERT … SELECT or UPDATE … FROM
 * over it. New members get their ids from the members sequence up front (OVERRIDING SYSTEM VALUE)
 * so their newsletters, labels and events are written by the same statement that inserts them.
 * A referral-code collision (64 random bits; about one chance in 10^7 per million members) fails
 * the transaction; it is simply run again.
 */
async function mergeStagedRows(conn: Kysely<Database>, record: ImportRecord, rows: number): Promise<MergeCounts> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await conn.transaction().execute((trx) => mergeInTransaction(trx, record, rows));
    } catch (err) {
      const constraint = (err as { constraint?: unknown }).constraint;
      if (attempt < 3 && (err as { code?: unknown }).code === '23505' && constraint === 'members_referral_code_key') continue;
      throw err;
    }
  }
}

async function mergeInTransaction(trx: Transaction<Database>, record: ImportRecord, rows: number): Promise<MergeCounts> {
  const importId = record.id;
  // Losing the last commit of an import to a crash is harmless: the job runs it again.
  await sql`set local synchronous_commit = off`.execute(trx);
  await sql`set local work_mem = '256MB'`.execute(trx);

  const freeTier = await trx.selectFrom('tiers').select('id').where('slug', '=', 'free').executeTakeFirst();
  if (!freeTier) throw new Error('the free tier is missing');
  const newsletterIds = record.newsletter_id
    ? [record.newsletter_id]
    : (await trx.selectFrom('newsletters').select('id').where('is_default', '=', true).execute()).map((n) => n.id);
  const sequence = (await sql<{ name: string }>`select pg_get_serial_sequence('members', 'id') as name`.execute(trx)).rows[0]!.name;
  // Hashing every address costs a second per million; skip it while nothing is suppressed.
  const anySuppressed = (await trx.selectFrom('suppressions').select('email_hash').limit(1).execute()).length > 0;
  const suppressionJoin = anySuppressed
    ? sql`left join suppressions s on s.email_hash = encode(sha256(convert_to(f.email, 'UTF8')), 'hex')`
    : sql`left join (select null::text as reason) s on false`;

  // The first row of each address (emails are already lower-cased by mapRow), with its member.
  // New ids are drawn in file order (a sorted subquery is never flattened), so members list in
  // the order of the file.
  await sql`
    create temp table import_batch on commit drop as
    select b.*, case when b.member_id is null then nextval(${sequence}::regclass) end as new_id
    from (
      select f.*, m.id as member_id, s.reason as suppressed
      from (
        select distinct on (r.email) r.row_number, r.email, r.name, r.status, r.created_at, r.labels,
               r.utm_source, r.utm_medium, r.utm_campaign, r.referrer
        from import_rows r
        where r.import_id = ${importId}
        order by r.email, r.row_number
      ) f
      left join members m on lower(m.email) = f.email
      ${suppressionJoin}
      order by f.row_number
    ) b
  `.execute(trx);
  await sql`analyze import_batch`.execute(trx);

  await sql`
    insert into import_rejections (import_id, row_number, email, reason)
    select r.import_id, r.row_number, r.email, 'duplicate of row ' || b.row_number
    from import_rows r join import_batch b on b.email = r.email
    where r.import_id = ${importId} and r.row_number <> b.row_number
  `.execute(trx);

  await sql`
    insert into labels (name)
    select distinct on (lower(l.name)) l.name
    from import_batch b cross join unnest(b.labels) as l(name)
    where cardinality(b.labels) > 0
    order by lower(l.name), b.row_number
    on conflict ((lower(name))) do nothing
  `.execute(trx);

  const event = JSON.stringify({ import_id: importId });
  const created = await sql<{ imported: string; pending: string }>`
    with inserted as (
      insert into members (id, email, name, status, tier_id, source_platform, utm_source, utm_medium, utm_campaign, referrer,
                           referral_code, created_at, updated_at, confirmed_at, import_id)
      overriding system value
      select b.new_id, b.email, b.name, n.status, ${freeTier.id}, 'import', b.utm_source, b.utm_medium, b.utm_campaign, b.referrer,
             translate(left(md5(gen_random_uuid()::text), 16), '01', 'yz'),
             coalesce(b.created_at, now()), now(),
             case when n.status = 'active' then coalesce(b.created_at, now()) end,
             ${importId}
      from import_batch b
      cross join lateral (
        select case
          when b.status = 'complained' or b.suppressed = 'complained' then 'complained'
          when b.status = 'bounced' or b.suppressed = 'bounced' then 'bounced'
          when b.status = 'unsubscribed' or b.suppressed is not null then 'unsubscribed'
          when ${record.mark_confirmed} then 'active'
          else 'pending'
        end as status
      ) n
      where b.member_id is null
      -- A reader who subscribed since the batch was read keeps their row; this one is skipped.
      on conflict ((lower(email))) do nothing
      returning id, status
    ), subscribed as (
      insert into member_newsletters (member_id, newsletter_id)
      select i.id, nl.id from inserted i cross join unnest(${newsletterIds}::bigint[]) as nl(id)
      where i.status in ('active', 'pending')
    ), labelled as (
      insert into member_labels (member_id, label_id)
      select i.id, l.id
      from inserted i
      join import_batch b on b.new_id = i.id and cardinality(b.labels) > 0
      cross join unnest(b.labels) as x(name)
      join labels l on lower(l.name) = lower(x.name)
    ), logged as (
      insert into events (member_id, type, data) select i.id, 'imported', ${event}::jsonb from inserted i
    )
    select count(*) as imported, count(*) filter (where status = 'pending') as pending from inserted
  `.execute(trx);

  const matched = await sql<{ updated: string }>`
    with matched as (
      select b.member_id, b.name, b.status, b.labels from import_batch b where b.member_id is not null
    ), changed as (
      -- Never downgraded or re-activated, except by a bounce or complaint (facts, not choices);
      -- a complaint outranks a bounce. Written against the row's current status, not the batch's
      -- snapshot, so a concurrent unsubscribe is not undone.
      update members m set
        status = case
          when x.status = 'complained' then 'complained'
          when x.status = 'bounced' and m.status <> 'complained' then 'bounced'
          else m.status end,
        name = case when coalesce(m.name, '') = '' then coalesce(x.name, m.name) else m.name end,
        updated_at = now()
      from matched x
      where m.id = x.member_id
        and ((x.status = 'complained' and m.status <> 'complained')
          or (x.status = 'bounced' and m.status not in ('bounced', 'complained'))
          or (coalesce(m.name, '') = '' and x.name is not null))
      returning m.id, m.status
    ), resulting as (
      select x.member_id, coalesce(c.status, m.status) as status, x.labels
      from matched x join members m on m.id = x.member_id left join changed c on c.id = x.member_id
    ), subscribed as (
      insert into member_newsletters (member_id, newsletter_id)
      select r.member_id, nl.id from resulting r cross join unnest(${newsletterIds}::bigint[]) as nl(id)
      where r.status in ('active', 'pending')
      on conflict do nothing
    ), labelled as (
      insert into member_labels (member_id, label_id)
      select r.member_id, l.id
      from resulting r cross join unnest(r.labels) as x(name) join labels l on lower(l.name) = lower(x.name)
      where cardinality(r.labels) > 0
      on conflict do nothing
    ), logged as (
      insert into events (member_id, type, data) select x.member_id, 'imported', ${event}::jsonb from matched x
    )
    select count(*) as updated from matched
  `.execute(trx);

  await sql`
    insert into suppressions (email_hash, reason)
    select distinct on (1) encode(sha256(convert_to(b.email, 'UTF8')), 'hex'), b.status
    from import_batch b where b.status in ('bounced', 'complained')
    order by 1, b.status desc
    on conflict (email_hash) do nothing
  `.execute(trx);

  const rejected = await trx
    .selectFrom('import_rejections')
    .select(sql<string>`count(*)`.as('n'))
    .where('import_id', '=', importId)
    .executeTakeFirstOrThrow();

  const counts: MergeCounts = {
    imported: Number(created.rows[0]?.imported ?? 0),
    updated: Number(matched.rows[0]?.updated ?? 0),
    rejected: Number(rejected.n),
    pending: Number(created.rows[0]?.pending ?? 0),
  };
  await trx
    .updateTable('imports')
    .set({
      status: 'done',
      rows,
      imported: counts.imported,
      updated: counts.updated,
      rejected: counts.rejected,
      bytes_done: sql<number>`bytes` as unknown as number,
      error: null,
      finished_at: new Date(),
    })
    .where('id', '=', importId)
    .execute();
  await trx.deleteFrom('import_chunks').where('import_id', '=', importId).execute();
  if (record.send_confirmation && counts.pending > 0) {
    await enqueue(trx, 'import_confirmations', { importId }, { jobKey: `import_confirmations:${importId}`, maxAttempts: 10 });
  }
  return counts;
}

/**
 * A Kysely bound to one checked-out client, so the run's statements, its transaction and its
 * COPY share one session (and its advisory lock). Never destroyed: the client goes back to the pool.
 */
function pinnedKysely(client: pg.PoolClient): Kysely<Database> {
  const pinned = { query: client.query.bind(client), release: () => undefined, processID: (client as unknown as { processID?: number }).processID } as unknown as PostgresPoolClient;
  const pool: PostgresPool = { connect: async () => pinned, end: async () => undefined, options: {} };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

function lockKey(importId: string): number {
  // The second key of the two-int form; ids 2^31 apart share a lock, which only makes them take turns.
  return Number(BigInt(importId) % 2_147_483_647n);
}

/** Whether the database connection itself failed (as opposed to a statement in it). */
function isConnectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT'].includes(code))) return true;
  return err instanceof Error && /Connection terminated|Client has encountered a connection error|not queryable/i.test(err.message);
}

// ---------------------------------------------------------------------------------------------
// Read

export async function getImport(db: Kysely<Database>, importId: string): Promise<ImportRecord> {
  const record = /^\d{1,18}$/.test(importId) ? await db.selectFrom('imports').selectAll().where('id', '=', importId).executeTakeFirst() : undefined;
  if (!record) throw new NotFoundError('There is no such import.', 'import_not_found');
  return record;
}

export async function listImports(db: Kysely<Database>, limit = 50): Promise<ImportRecord[]> {
  const n = Math.min(200, Math.max(1, Math.floor(Number.isFinite(limit) ? limit : 50)));
  return db.selectFrom('imports').selectAll().orderBy('id', 'desc').limit(n).execute();
}

/**
 * The rejection report as CSV lines (header first: row,email,reason), streamed from the database
 * in pages, never all in memory. Throws NotFoundError (on first iteration) for an unknown import.
 */
export async function* rejectionsCsv(db: Kysely<Database>, importId: string): AsyncIterable<string> {
  const record = await getImport(db, importId);
  yield 'row,email,reason\n';
  let after = 0;
  for (;;) {
    const page = await db
      .selectFrom('import_rejections')
      .select(['row_number', 'email', 'reason'])
      .where('import_id', '=', record.id)
      .where('row_number', '>', after)
      .orderBy('row_number')
      .limit(REJECTION_PAGE)
      .execute();
    for (const r of page) yield `${r.row_number},${csvCell(r.email ?? '')},${csvCell(r.reason)}\n`;
    if (page.length < REJECTION_PAGE) return;
    after = page[page.length - 1]!.row_number;
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
    record.status === 'done' ? 1 : record.status === 'running' || record.status === 'failed' ? (bytes > 0 ? Math.min(0.9, (0.9 * done) / bytes) : 0) : 0;
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

/** Gives up on an import whose job has used its last attempt (the database kept dropping it). */
export async function markImportFailed(db: Kysely<Database>, importId: string, reason: string): Promise<void> {
  await db
    .updateTable('imports')
    .set({ status: 'failed', error: reason, finished_at: new Date() })
    .where('id', '=', importId)
    .where('status', 'in', ['queued', 'running'])
    .execute();
  await db.deleteFrom('import_rows').where('import_id', '=', importId).execute();
}

/** Removes an import that was never started (its file goes with it): an API upload refused at start. */
export async function discardUploadedImport(db: Kysely<Database>, importId: string): Promise<void> {
  await db.deleteFrom('imports').where('id', '=', importId).where('status', '=', 'uploaded').execute();
}
