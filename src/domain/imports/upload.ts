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
import { detectFormat, IMPORT_FORMATS, isImportFormat, mapColumns, type ColumnOverrides, type ImportFormat } from './formats.ts';
import type { PlanChoice } from './merge.ts';
import type { ImportRecord } from './read.ts';

export interface ImportOptions {
  format?: ImportFormat | 'auto';
  newsletterSlug?: string | null;
  markConfirmed?: boolean;
  attestation?: string | null;
  sendConfirmation?: boolean;
  /** Staff's manual column mapping: header → field name (or `ignore`). */
  mapping?: ColumnOverrides;
  /** Source plan (or `tag:<label>`) → Hearth tier and access. */
  plans?: Readonly<Record<string, PlanChoice>>;
  /** Yes, import paying members of unmapped plans as free. */
  confirmFree?: boolean;
  /** Read and plan only: the import stops at 'previewed' until started again without it. */
  preview?: boolean;
  /** Overrides the detected text encoding. */
  encoding?: TextEncodingName;
}

/** The encodings an upload may be in. Latin-1 files are read as Windows-1252, its superset (as browsers do). */
export type TextEncodingName = 'utf-8' | 'windows-1252';
const ENCODINGS: readonly TextEncodingName[] = ['utf-8', 'windows-1252'];

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
          // Written (and copied into the protocol's buffer) before the next piece is filled: one
          // buffer for the whole upload, not one per MiB left to the garbage collector.
          await store(piece);
          filled = 0;
        }
      }
    }
    if (filled > 0) await store(piece.subarray(0, filled));
    const { headers, preview, encoding } = await head.finish();
    // No email column found (headers in another language): the mapping is empty until staff map one.
    const format = detectFormat(headers) ?? 'generic';
    const mapping = detectFormat(headers) === null ? {} : mapColumns(format, headers);
    return trx
      .updateTable('imports')
      .set({
        format,
        headers: JSON.stringify(headers.map(forJson)),
        mapping: JSON.stringify(mapping),
        preview: JSON.stringify(preview.map((record) => record.map((cell) => forJson(clip(cell, MAX_PREVIEW_CELL))))),
        bytes,
        encoding,
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
  private decoder: TextDecoder | undefined;
  encoding: TextEncodingName = 'utf-8';

  async feed(data: Uint8Array): Promise<void> {
    if (this.enough) return;
    if (this.parser === undefined) {
      this.pending.push(Buffer.from(data));
      this.pendingBytes += data.byteLength;
      if (this.pendingBytes < HEAD_BYTES) return;
      this.start(false);
    } else {
      this.parser.write(this.decoder!.decode(data, { stream: true }));
    }
    await this.settle();
  }

  async finish(): Promise<{ headers: string[]; preview: string[][]; encoding: TextEncodingName }> {
    if (!this.enough) {
      if (this.parser === undefined) this.start(true);
      const parser = this.parser!;
      const rest = this.decoder!.decode();
      if (rest !== '') parser.write(rest);
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
    return { headers, preview, encoding: this.encoding };
  }

  private start(complete: boolean): void {
    const head = Buffer.concat(this.pending);
    this.pending = [];
    if (head.byteLength === 0) throw new ValidationError('The file is empty.', 'import_empty');
    this.encoding = checkText(head.subarray(0, HEAD_BYTES), complete && head.byteLength <= HEAD_BYTES);
    this.decoder = new TextDecoder(this.encoding, { ignoreBOM: false });
    this.parser = parse(csvOptions(sniffDelimiter(head)));
    this.parser.on('data', (record: string[]) => {
      if (this.records.length <= PREVIEW_RECORDS) this.records.push(record);
    });
    this.parser.on('error', (err: Error) => {
      this.failure ??= err;
    });
    this.parser.write(this.decoder.decode(head, { stream: true }));
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
      // A header with no recognisable email column is kept: staff map the columns by hand.
    }
    if (this.records.length > PREVIEW_RECORDS && !this.enough) {
      this.enough = true;
      this.parser?.destroy();
    }
  }
}

/**
 * Refuses what is not text (spreadsheets and archives, UTF-16, binary) and tells UTF-8 from
 * Windows-1252 (Excel's "CSV" on Windows, Latin-1 exports): bytes that are not valid UTF-8 in the
 * head mean the legacy encoding, and the whole file is read as such. Only the head is checked;
 * invalid UTF-8 further down becomes U+FFFD in the cells it touches.
 */
function checkText(head: Buffer, complete: boolean): TextEncodingName {
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
    return 'utf-8';
  } catch {
    // Windows-1252 leaves only five bytes undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D); the WHATWG
    // decoder maps them to C1 controls, so any byte string decodes. Control bytes C0 were refused above.
    return 'windows-1252';
  }
}

/** The stored chunks as text in the import's encoding (a character split across chunks is kept whole). */
export async function* decodedChunks(chunks: AsyncIterable<Buffer>, encoding: string): AsyncGenerator<string> {
  const decoder = new TextDecoder(encoding === 'windows-1252' ? 'windows-1252' : 'utf-8', { ignoreBOM: false });
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    if (text !== '') yield text;
  }
  const rest = decoder.decode();
  if (rest !== '') yield rest;
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
 * format valid and has an email column, manual mapping valid; plan mapping names real tiers) and
 * moves 'uploaded' or 'previewed' → 'queued', enqueuing the job `run_import` {importId} in the
 * same transaction. A previewed import keeps its staged rows unless the mapping or encoding
 * changed. ConflictError if it is already running or finished.
 */
export async function startImport(db: Kysely<Database>, importId: string, options: ImportOptions): Promise<ImportRecord> {
  return db.transaction().execute(async (trx) => {
    const record = await lockImport(trx, importId);
    if (record.status !== 'uploaded' && record.status !== 'previewed')
      throw new ConflictError(`This import has already been started (it is ${record.status}).`, 'import_started');

    const requested = options.format ?? 'auto';
    if (requested !== 'auto' && !isImportFormat(requested)) {
      throw new ValidationError(
        `Unknown format "${clip(String(requested), 40)}": choose auto, ${IMPORT_FORMATS.join(', ')}.`,
        'invalid_format',
      );
    }
    const format = requested === 'auto' ? (record.format as ImportFormat) : requested;
    const mapping = mapColumns(format, record.headers, options.mapping ?? {});
    const encoding = options.encoding ?? (record.encoding as TextEncodingName);
    if (!ENCODINGS.includes(encoding)) {
      throw new ValidationError(`Unknown encoding "${clip(String(encoding), 40)}": choose ${ENCODINGS.join(' or ')}.`, 'invalid_encoding');
    }
    const plans = await checkPlans(trx, options.plans ?? {});

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
        encoding,
        // Rows staged in another encoding are not this file's rows.
        ...(encoding !== record.encoding ? { staged_mapping: null } : {}),
        newsletter_id: newsletterId,
        mark_confirmed: markConfirmed,
        attestation: markConfirmed ? clip(attestation, 2000) : null,
        send_confirmation: sendConfirmation,
        plans: JSON.stringify(plans),
        confirm_free: options.confirmFree === true,
        preview_only: options.preview === true,
        error: null,
      })
      .where('id', '=', record.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await enqueue(trx, 'run_import', { importId: record.id }, { jobKey: `run_import:${record.id}`, maxAttempts: 5 });
    return started;
  });
}

const ACCESS_KINDS = ['paid', 'comp', 'gift'];

/** The plan mapping, checked: each names an existing tier and, if given, an access kind. Keys are kept as given. */
async function checkPlans(db: Kysely<Database>, plans: Readonly<Record<string, PlanChoice>>): Promise<Record<string, PlanChoice>> {
  const entries = Object.entries(plans);
  if (entries.length > 200) throw new ValidationError('A plan mapping has at most 200 plans.', 'invalid_plans');
  const slugs = new Set((await db.selectFrom('tiers').select('slug').execute()).map((t) => t.slug));
  const checked: Record<string, PlanChoice> = {};
  for (const [plan, choice] of entries) {
    const key = plan.trim();
    if (key === '' || key.length > 100)
      throw new ValidationError('A plan in the mapping is empty or longer than 100 characters.', 'invalid_plans');
    const tier = typeof choice?.tier === 'string' ? choice.tier.trim().toLowerCase() : '';
    if (!slugs.has(tier)) {
      throw new ValidationError(`The plan "${clip(key, 60)}" maps to a tier "${clip(tier, 60)}" this site does not have.`, 'unknown_tier');
    }
    if (choice.access !== undefined && !ACCESS_KINDS.includes(choice.access)) {
      throw new ValidationError(`The access for plan "${clip(key, 60)}" must be paid, comp or gift.`, 'invalid_plans');
    }
    checked[key] = choice.access === undefined ? { tier } : { tier, access: choice.access };
  }
  return checked;
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
