/**
 * Imports, phase 2a — staging: the stored file → decode → csv-split (csv-parse) → mapRow → COPY lines for
 * import_rows and import_rejections. No database handle of its own: the run gives it three
 * callbacks (read a chunk, run a COPY, report progress), so the same code runs in the run's own
 * session (small files) or in a worker thread with its own connections (stage-worker.ts: large
 * files, so that parsing's garbage lives in a heap with a small, fixed limit and never in the
 * server's).
 */
import { randomFillSync } from 'node:crypto';
import type { CsvError } from 'csv-parse';
import { csvRecords, SKIPPED, TAKEN_PER_YIELD } from './csv-split.ts';
import { findFingerprint, hashed, hashRecord, int8Text, seedOf, writeCount, writeInt8, type FingerprintSet } from './fingerprint.ts';
import { ValidationError } from '../../lib/errors.ts';
import { isImportFormat, mapRow, undoDefusing, type ColumnMapping, type ImportedMember } from './formats.ts';
import { parseFieldValue, type MemberField } from '../members/fields.ts';
import { clip, csvProblem, decodedChunks, sniffDelimiter } from './upload.ts';

/**
 * COPY batches of staged rows: about 1 MB, written as UTF-8 bytes into one of two reused buffers as
 * each row is mapped. Per-statement overhead is already negligible (parsing, not COPY, is the slow
 * side), and no row's text outlives its own mapping: a batch kept as strings until written
 * survived the young generation's collections into the old space, and under the staging thread's
 * fixed heap (run.ts) that set off a full collection every megabyte or so (1M rows: 192 of them,
 * ~10 s of a 27 s staging). Tests lower the size (in the run's own session) to reach its edges.
 */
export const rowBatch = { bytes: 1024 * 1024 };
const COPY_BATCH_REJECTIONS = 10_000;
/**
 * Skipped rows are written as COPY text straight into a buffer of this size (no string per row: a
 * re-import skips a million). Room is kept for the rows csvRecords may take before it next yields.
 */
const SKIP_BUFFER_BYTES = 1024 * 1024;
const SKIP_LINE_BYTES = 64;
/** Bytes of a chunk decoded into one text (stageFile). */
const DECODE_PIECE_BYTES = 64 * 1024;
const SKIP_ROOM = (TAKEN_PER_YIELD + 1) * SKIP_LINE_BYTES;

const ROWS_COPY =
  'copy import_rows (import_id, row_number, email, name, status, created_at, labels, utm_source, utm_medium, utm_campaign, referrer, ' +
  'notes, plan, access, access_until, stripe_customer_id, state_at, confirmed_at, newsletters, platform, ref, referral_code, fields, language, ' +
  'fingerprint, drawn_code) from stdin';
const SKIPS_COPY = 'copy import_skips (import_id, row_number, fingerprint) from stdin';
const REJECTIONS_COPY = 'copy import_rejections (import_id, row_number, email, reason) from stdin';

/** 60 KiB: 120 KiB of hex text, under V8's 128 KiB large-object size. */
const READ_PIECE_BYTES = 60 * 1024;

/**
 * The stored chunk `seq` of an import (undefined past the file's end), through `query` (a pool's
 * or a client's). Read in pieces whose hex text stays below V8's large-object size: a chunk read
 * whole arrives as a 2 MiB string, allocated outside the young generation, and under the staging
 * thread's fixed heap each one brought the next full collection nearer (a re-import's parse of a
 * million rows: 8.9–10.4 → 5.7–6.9 s).
 */
export async function readStoredChunk(
  query: (text: string, values: unknown[]) => Promise<{ rows: Array<{ piece: Buffer }> }>,
  importId: string,
  seq: number,
): Promise<Buffer | undefined> {
  const found = await query(
    `select substring(c.data from o for ${READ_PIECE_BYTES}) as piece
     from import_chunks c cross join generate_series(1, greatest(octet_length(c.data), 1), ${READ_PIECE_BYTES}) o
     where c.import_id = $1 and c.seq = $2 order by o`,
    [importId, seq],
  );
  if (found.rows.length === 0) return undefined;
  return found.rows.length === 1 ? found.rows[0]!.piece : Buffer.concat(found.rows.map((r) => r.piece));
}

/** What staging needs to know about the import (plain data: it crosses to a worker thread). */
export interface StageInput {
  importId: string;
  format: string;
  mapping: ColumnMapping;
  encoding: string;
  /** The site's custom member fields (README "Custom member fields"). */
  fields: MemberField[];
  /** "Now" for rows without a date, as epoch milliseconds. */
  now: number;
  /** The site's languages (code and own name), for a language column. */
  languages: Array<{ code: string; name: string }>;
  /** Everything besides the file that decides what a row does (fingerprint.ts): seeds the record hashes. */
  optionsKey: string;
}

export interface StageIO {
  /** The stored chunk `seq` of the file, or undefined past its end. */
  readChunk(seq: number): Promise<Buffer | undefined>;
  /** One COPY … FROM STDIN with this text (a Buffer: its bytes, already UTF-8). */
  copy(statement: string, text: string | Buffer): Promise<void>;
  /** After each batch is written: bytes of the file read and data rows parsed so far. */
  progress(done: { bytes: number; rows: number }): Promise<void>;
  /**
   * The members' stored fingerprints (fingerprint.ts), when rows unchanged since a member's last
   * import are to be skipped; absent: every row is parsed.
   */
  fingerprints?(): Promise<FingerprintSet>;
}

/**
 * Parses the stored file into import_rows and import_rejections; returns the number of data rows
 * and the bytes read. Row numbers are those a spreadsheet shows: the header is row 1, the first
 * member row 2. Parsing and COPY overlap: one batch is written while the next is parsed, and at
 * most two batches are in memory.
 */
export async function stageFile(input: StageInput, io: StageIO): Promise<{ rows: number; bytes: number; skipped: number }> {
  const { format, mapping } = input;
  if (!isImportFormat(format) || typeof mapping.email !== 'number')
    throw new Error(`import ${input.importId} has no valid format or mapping`);
  const loading = io.fingerprints?.();
  loading?.catch(() => undefined);
  const first = await io.readChunk(0);
  if (!first) throw new ValidationError('The uploaded file is no longer stored. Upload it again.', 'import_file_missing');
  const known = await loading;
  // An entry is used by one record only: an identical record later in the file is parsed (and
  // rejected by the merge as a duplicate of the first).
  const used = known && known.size > 0 ? new Uint8Array(known.size) : null;

  let bytesRead = 0;
  // The next chunk is read while this one is parsed (one chunk ahead: 1 MiB more in memory).
  async function* chunks(): AsyncGenerator<Buffer> {
    let next: Buffer | undefined = first;
    let ahead: Promise<Buffer | undefined> | undefined;
    try {
      for (let seq = 1; next !== undefined; seq++) {
        bytesRead += next.byteLength;
        ahead = io.readChunk(seq);
        ahead.catch(() => undefined);
        yield next;
        next = await ahead;
        ahead = undefined;
      }
    } finally {
      // Stopped early (an error further on): the read in flight must end before the connection goes.
      await ahead?.catch(() => undefined);
    }
  }
  const prefix = `${input.importId}\t`;
  const prefixBytes = Buffer.from(prefix);
  // Skipped rows as COPY text, in one of two buffers (the other may be in a COPY still).
  let skipBuffer = used !== null ? Buffer.allocUnsafe(SKIP_BUFFER_BYTES) : Buffer.alloc(0);
  let spareBuffer = used !== null ? Buffer.allocUnsafe(SKIP_BUFFER_BYTES) : Buffer.alloc(0);
  let skipBytes = 0;
  // Each record's hash (null: read by csv-parse), and whether it is a member's unchanged row: a
  // row taken here is counted and written to import_skips here, and csvRecords does not yield it.
  let seed = { hi: 0, lo: 0 };
  let fingerprint: string | null = null;
  const onRecord = (raw: string | null): boolean => {
    if (records === 0) {
      seed = seedOf(input.optionsKey, raw ?? '');
      return false;
    }
    if (raw === null) {
      fingerprint = null;
      return false;
    }
    hashRecord(seed.hi, seed.lo, raw);
    if (used !== null) {
      const at = findFingerprint(known!, hashed.hi, hashed.lo);
      if (at >= 0 && used[at] === 0) {
        used[at] = 1;
        records++;
        skipped++;
        // `import_id \t row_number \t fingerprint \n`
        let end = skipBytes;
        for (let i = 0; i < prefixBytes.length; i++) skipBuffer[end++] = prefixBytes[i]!;
        end = writeCount(skipBuffer, end, records);
        skipBuffer[end++] = 9;
        end = writeInt8(skipBuffer, end, hashed.hi, hashed.lo);
        skipBuffer[end++] = 10;
        skipBytes = end;
        return true;
      }
    }
    fingerprint = int8Text(hashed.hi, hashed.lo);
    return false;
  };
  // Each chunk is decoded in pieces of 64 KiB: texts below V8's large-object size are born and die
  // in the young generation, where a 1 MiB text per chunk went to the large-object space and, under
  // the server's heap growing factor (lib/heap.ts), set off a full collection every few chunks.
  async function* pieces(): AsyncGenerator<Buffer> {
    for await (const chunk of chunks())
      for (let at = 0; at < chunk.byteLength; at += DECODE_PIECE_BYTES) yield chunk.subarray(at, at + DECODE_PIECE_BYTES);
  }
  // csv-split.ts: csv-parse's records, most lines split without its per-character state machine.
  const parser = csvRecords(decodedChunks(pieces(), input.encoding), sniffDelimiter(first), onRecord);

  const now = new Date(input.now);
  const drawCode = codeDrawer();
  let fieldColumns: Array<{ index: number; field: MemberField }> = [];
  let rowBuffer = Buffer.allocUnsafe(rowBatch.bytes);
  let spareRowBuffer = Buffer.allocUnsafe(rowBatch.bytes);
  let rowBytes = 0;
  let rejectionLines: string[] = [];
  let records = 0;
  let skipped = 0;
  let writing: Promise<void> = Promise.resolve();
  const write = async (rows: Buffer, rejections: string[], skips: Buffer, progress: { bytes: number; rows: number }) => {
    if (rows.byteLength > 0) await io.copy(ROWS_COPY, rows);
    if (rejections.length > 0) await io.copy(REJECTIONS_COPY, rejections.join(''));
    if (skips.byteLength > 0) await io.copy(SKIPS_COPY, skips);
    await io.progress(progress);
  };
  const flush = async () => {
    const rejections = rejectionLines;
    const progress = { bytes: bytesRead, rows: Math.max(0, records - 1) };
    rejectionLines = [];
    // The spare buffers' COPY (the last write) ends before they are filled again.
    await writing;
    const rows = rowBuffer.subarray(0, rowBytes);
    [rowBuffer, spareRowBuffer] = [spareRowBuffer, rowBuffer];
    rowBytes = 0;
    const skips = skipBuffer.subarray(0, skipBytes);
    [skipBuffer, spareBuffer] = [spareBuffer, skipBuffer];
    skipBytes = 0;
    writing = write(rows, rejections, skips, progress);
    // Awaited at the next flush; until then a failure must not count as unhandled.
    writing.catch(() => undefined);
  };

  try {
    for await (const record of parser) {
      if (record === SKIPPED) {
        // Rows taken by onRecord (counted and written there) since the last record yielded.
        if (skipBytes >= SKIP_BUFFER_BYTES - SKIP_ROOM) await flush();
        continue;
      }
      records++;
      // Parsing runs as microtasks, which never let the event loop write to a socket: the batch
      // handed to COPY would sit in this thread's queue while PostgreSQL waits for it, and the next
      // flush would wait for that COPY. A turn of the loop every few hundred rows sends it on.
      if ((records & 255) === 0) await new Promise(setImmediate);
      const cells = record;
      if (records === 1) {
        // The header row, already mapped at upload; only the custom field columns are read here.
        fieldColumns = fieldColumnsOf(cells, mapping, input.fields);
        continue;
      }
      const result = mapRow(format, mapping, cells, { now, languages: input.languages });
      const values = result.ok ? fieldValuesOf(fieldColumns, cells, format === 'hearth') : null;
      if (result.ok && typeof values === 'string') {
        rejectionLines.push(`${prefix}${records}\t${copyText(clip(result.member.email, 320))}\t${copyText(values)}\n`);
      } else if (result.ok) {
        const line = prefix + stagingLine(records, result.member, values as Record<string, unknown> | null, fingerprint, drawCode());
        // A UTF-16 code unit is at most 3 bytes of UTF-8: a line that may not fit goes with the next batch.
        if (rowBytes + line.length * 3 > rowBuffer.byteLength) await flush();
        if (line.length * 3 > rowBuffer.byteLength) {
          // Longer than a batch (long notes, many fields): written alone.
          await writing;
          writing = io.copy(ROWS_COPY, line);
          writing.catch(() => undefined);
        } else rowBytes += rowBuffer.write(line, rowBytes, 'utf8');
      } else {
        rejectionLines.push(
          `${prefix}${records}\t${copyText(result.email === null ? null : clip(result.email, 320))}\t${copyText(result.reason)}\n`,
        );
      }
      if (rejectionLines.length >= COPY_BATCH_REJECTIONS || skipBytes >= SKIP_BUFFER_BYTES - SKIP_ROOM) await flush();
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
    await parser.return(undefined);
  }
  return { rows: Math.max(0, records - 1), bytes: bytesRead, skipped };
}

/** One import_rows line in COPY's text format (the import_id column is prefixed by the caller). */
function stagingLine(
  rowNumber: number,
  m: ImportedMember,
  fields: Record<string, unknown> | null,
  fingerprint: string | null,
  code: string,
): string {
  return `${rowNumber}\t${copyText(m.email)}\t${copyText(m.name)}\t${m.status}\t${copyDate(m.createdAt)}\t${
    m.labels.length === 0 ? '{}' : copyText(arrayLiteral(m.labels))
  }\t${copyText(m.utmSource)}\t${copyText(m.utmMedium)}\t${copyText(m.utmCampaign)}\t${copyText(m.referrer)}\t${copyText(m.notes)}\t${copyText(
    m.plan,
  )}\t${copyText(m.access)}\t${copyDate(m.accessUntil)}\t${copyText(m.stripeCustomerId)}\t${copyDate(m.stateAt)}\t${copyDate(m.confirmedAt)}\t${
    m.newsletters === null ? '\\N' : copyText(arrayLiteral(m.newsletters))
  }\t${copyText(m.platform)}\t${copyText(m.ref)}\t${copyText(m.referralCode)}\t${fields === null ? '\\N' : copyText(JSON.stringify(fields))}\t${copyText(m.language)}\t${fingerprint ?? '\\N'}\t${code}\n`;
}

/** Hex digits with 0 and 1 read as y and z: the shape referral codes have always had. */
const CODE_DIGITS = 'yz23456789abcdef';
const CODE_PAIRS = Array.from({ length: 256 }, (_, b) => CODE_DIGITS[b >> 4]! + CODE_DIGITS[b & 15]!);
const CODE_POOL_BYTES = 8 * 1024;

/**
 * Referral codes for staged rows: 64 bits each from the system's random source, filled 1,024 codes
 * at a time into one reused buffer (16 characters, as the merge's own codes). The merge gives each
 * new member its row's code, unless the file kept one for them; a code drawn twice (one chance in
 * 10^7 per million members) fails the merge, which then draws its own.
 */
function codeDrawer(): () => string {
  const pool = Buffer.allocUnsafe(CODE_POOL_BYTES);
  let at = CODE_POOL_BYTES;
  return () => {
    if (at === CODE_POOL_BYTES) {
      randomFillSync(pool);
      at = 0;
    }
    const i = at;
    at += 8;
    return (
      CODE_PAIRS[pool[i]!]! +
      CODE_PAIRS[pool[i + 1]!]! +
      CODE_PAIRS[pool[i + 2]!]! +
      CODE_PAIRS[pool[i + 3]!]! +
      CODE_PAIRS[pool[i + 4]!]! +
      CODE_PAIRS[pool[i + 5]!]! +
      CODE_PAIRS[pool[i + 6]!]! +
      CODE_PAIRS[pool[i + 7]!]!
    );
  };
}

/** The columns that feed custom fields: header equal to a field's key (case and spaces aside), not read by another field. */
function fieldColumnsOf(headers: string[], mapping: ColumnMapping, fields: MemberField[]): Array<{ index: number; field: MemberField }> {
  const used = new Set(Object.values(mapping));
  const out: Array<{ index: number; field: MemberField }> = [];
  headers.forEach((h, index) => {
    const key = String(h)
      .replace(/^\uFEFF/, '')
      .trim()
      .toLowerCase();
    const field = fields.find((f) => f.key === key);
    if (field && !used.has(index) && !out.some((o) => o.field.key === field.key)) out.push({ index, field });
  });
  return out;
}

/** A row's field values (null: none), or the reason one is not valid (the row is rejected with it). */
function fieldValuesOf(
  columns: Array<{ index: number; field: MemberField }>,
  cells: string[],
  hearth: boolean,
): Record<string, unknown> | null | string {
  if (columns.length === 0) return null;
  const values: Record<string, unknown> = {};
  for (const { index, field } of columns) {
    try {
      const cell = cells[index] ?? '';
      // Hearth's own export defused formulas in these cells too.
      const value = parseFieldValue(field, hearth ? undoDefusing(cell.trim()) : cell);
      if (value !== null) values[field.key] = value;
    } catch (err) {
      if (err instanceof ValidationError) return err.message;
      throw err;
    }
  }
  return Object.keys(values).length > 0 ? values : null;
}

/**
 * A date in COPY's text format, UTC (`2024-03-01 10:15:00.000+00`). Written by hand: a third of
 * what toISOString costs (a million rows carry one to four dates each), and PostgreSQL reads a
 * year past 9999 in this shape, where it refuses toISOString's `+010000-…`.
 */
export function copyDate(value: Date | null): string {
  if (value === null) return '\\N';
  const year = String(value.getUTCFullYear()).padStart(4, '0');
  return `${year}-${two(value.getUTCMonth() + 1)}-${two(value.getUTCDate())} ${two(value.getUTCHours())}:${two(value.getUTCMinutes())}:${two(
    value.getUTCSeconds(),
  )}.${String(value.getUTCMilliseconds() + 1000).slice(1)}+00`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
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
