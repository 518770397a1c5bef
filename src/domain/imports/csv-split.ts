/**
 * A faster reader for the CSV dialect of csvOptions (upload.ts), with csv-parse's exact answers.
 *
 * Most lines of a member export hold no quote at all: those are split on the delimiter here (one
 * `split`, no per-character state machine). A line with a quote, a stray carriage return or an
 * unusual length is handed to csv-parse itself (its synchronous API, same options), together
 * with the lines that follow while a quoted value is still open, so every record means what
 * csv-parse's stream would have made of it. A file whose first line ends in a bare `\r` (old Mac
 * files), or a quote left open over more than MAX_GROUP_BYTES, is read by csv-parse's stream from
 * there on. test/unit/csv-split.test.ts checks the records against csv-parse's on arbitrary input.
 */
import { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { csvOptions } from './upload.ts';

/** Lines longer than this go to csv-parse (which applies max_record_size to them). */
const MAX_FAST_LINE = 64 * 1024;
/** A quoted value still open after this many characters: the rest of the file goes to csv-parse's stream. */
const MAX_GROUP_BYTES = 1024 * 1024;

/**
 * Yielded, instead of cells, after records `onRecord` took (fingerprint.ts: unchanged rows): at most
 * TAKEN_PER_YIELD of them come between two things yielded, so a consumer that collects them in
 * onRecord knows how much room to keep. (A yield per record costs an async generator's round trip.)
 */
export const SKIPPED: string[] = Object.freeze([]) as unknown as string[];
export const TAKEN_PER_YIELD = 256;

/**
 * The records of a decoded CSV text, header first, as csv-parse with csvOptions(delimiter) would
 * give them; errors are csv-parse's own (CsvError, `lines` counted from the file's start).
 * `onRecord`, when given, sees each record's raw text before it is split (null for a record read
 * by csv-parse); when it returns true the record is taken: not split and not yielded (SKIPPED is
 * yielded after at most TAKEN_PER_YIELD taken records, and at the end after any).
 * (Every line that is not blank is offered, even one of empty cells that is then left out.)
 */
export async function* csvRecords(
  texts: AsyncIterable<string>,
  delimiter: string,
  onRecord?: (raw: string | null) => boolean,
): AsyncGenerator<string[]> {
  const iterator = texts[Symbol.asyncIterator]();
  let text = '';
  let done = false;
  // A text read on while the line that ends in it is read from a small text of its own (refill).
  let queued: string | null = null;
  let queuedAt = 0;
  /** The source's next text, or undefined at its end (which sets `done`). */
  const pull = async (): Promise<string | undefined> => {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      return undefined;
    }
    return next.value;
  };
  const more = async (): Promise<boolean> => {
    if (queued !== null) {
      text += queued.slice(queuedAt);
      queued = null;
      return true;
    }
    if (done) return false;
    const value = await pull();
    if (value === undefined) return false;
    text += value;
    return true;
  };
  /**
   * more(), when `text` holds only the start of a line: the line's end, from the next text, is
   * appended to it and that text is queued for after it, so a megabyte of text is not copied
   * into a new string behind each line cut by a chunk's end (the same characters, in order).
   */
  const refill = async (): Promise<boolean> => {
    if (text !== '' || queued !== null) {
      if (queued !== null || done) return more();
      const value = await pull();
      if (value === undefined) return false;
      const cut = value.indexOf('\n');
      if (cut < 0 || cut >= MAX_FAST_LINE) text += value;
      else {
        text += value.slice(0, cut + 1);
        queued = value;
        queuedAt = cut + 1;
      }
      return true;
    }
    if (done) return false;
    const value = await pull();
    if (value === undefined) return false;
    text = value;
    return true;
  };

  // The record delimiter is decided by the first line, as csv-parse's auto-detection does.
  while (text.indexOf('\n') < 0 && text.length < MAX_FAST_LINE && (await more()));
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const firstNewline = text.indexOf('\n');
  const firstReturn = text.indexOf('\r');
  // A quote in the first line could hide its end: csv-parse's stream reads such a file.
  const firstQuote = text.indexOf('"');
  if (firstNewline < 0 || (firstReturn >= 0 && firstReturn < firstNewline - 1) || (firstQuote >= 0 && firstQuote < firstNewline)) {
    yield* streamed(text, iterator, delimiter, 0, onRecord);
    return;
  }
  const eol = firstNewline > 0 && firstReturn === firstNewline - 1 ? '\r\n' : '\n';
  const options = { ...csvOptions(delimiter), bom: false, record_delimiter: eol };

  let pos = 0;
  let line = 0; // physical lines consumed before `pos`
  let taken = 0; // records onRecord took since the last yield
  for (;;) {
    let end = text.indexOf(eol, pos);
    if (end < 0) {
      // Keep what is left and read on; at the end, the last line has no line break.
      text = text.slice(pos);
      pos = 0;
      // (A variable of its own: TypeScript does not see refill() setting `queued`.)
      const rest = queued as string | null;
      if (rest !== null) {
        // The rest of the text after a line read across two of them (refill, above).
        if (text === '') {
          text = rest;
          pos = queuedAt;
        } else text += rest.slice(queuedAt);
        queued = null;
        continue;
      }
      if (taken > 0) {
        taken = 0;
        yield SKIPPED;
      }
      if (await refill()) continue;
      if (text === '') return;
      end = text.length;
    }
    const row = text.slice(pos, end);
    const next = Math.min(end + eol.length, text.length);
    if (row.indexOf('"') < 0 && row.indexOf('\r') < 0 && (eol === '\n' || row.indexOf('\n') < 0) && row.length <= MAX_FAST_LINE) {
      pos = next;
      line++;
      if (row === '') continue;
      if (onRecord?.(row)) {
        if (++taken >= TAKEN_PER_YIELD) {
          taken = 0;
          yield SKIPPED;
        }
        continue;
      }
      const cells = row.split(delimiter);
      if (cells.every((c) => c.trim() === '')) continue;
      taken = 0;
      yield cells;
      continue;
    }
    // A line of regular quoted values is split here too; anything else is csv-parse's.
    if (row.indexOf('\r') < 0 && (eol === '\n' || row.indexOf('\n') < 0) && row.length <= MAX_FAST_LINE) {
      // A record taken by onRecord was regular when it was hashed before: it is regular now.
      if (onRecord?.(row)) {
        pos = next;
        line++;
        if (++taken >= TAKEN_PER_YIELD) {
          taken = 0;
          yield SKIPPED;
        }
        continue;
      }
      const cells = splitQuoted(row, delimiter);
      if (cells !== null) {
        pos = next;
        line++;
        if (!cells.every((c) => c.trim() === '')) {
          taken = 0;
          yield cells;
        }
        continue;
      }
    }
    // csv-parse reads this line, and the next ones while a quoted value is open.
    let groupEnd = next;
    for (;;) {
      const group = text.slice(pos, groupEnd);
      let records: string[][] | undefined;
      try {
        records = parseSync(group, options) as string[][];
      } catch (err) {
        const atEnd = groupEnd >= text.length;
        if (!(err instanceof CsvError) || err.code !== 'CSV_QUOTE_NOT_CLOSED' || (done && atEnd)) {
          if (err instanceof CsvError) offsetLines(err, line);
          throw err;
        }
      }
      if (records !== undefined) {
        for (const r of records) {
          onRecord?.(null);
          taken = 0;
          yield r;
        }
        line += countLines(group, eol);
        pos = groupEnd;
        break;
      }
      if (groupEnd - pos > MAX_GROUP_BYTES) {
        if (taken > 0) yield SKIPPED;
        if (queued !== null) await more();
        yield* streamed(text.slice(pos), iterator, delimiter, line, onRecord);
        return;
      }
      // Take one more line (reading on when the text runs out).
      let following = text.indexOf(eol, groupEnd);
      while (following < 0 && (await more())) following = text.indexOf(eol, groupEnd);
      groupEnd = following < 0 ? text.length : following + eol.length;
    }
    if (pos > 1024 * 1024) {
      text = text.slice(pos);
      pos = 0;
    }
  }
}

/**
 * The cells of one line whose quoted values are regular ("…", a quote inside doubled, the closing
 * quote right before a delimiter or the line's end), or null for anything else: a quote inside an
 * unquoted value, text after a closing quote, a value still open at the line's end.
 */
function splitQuoted(row: string, delimiter: string): string[] | null {
  const cells: string[] = [];
  const n = row.length;
  let i = 0;
  for (;;) {
    if (row.charCodeAt(i) === 34) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = row.indexOf('"', j);
        if (q < 0) return null;
        value += row.slice(j, q);
        if (row.charCodeAt(q + 1) === 34) {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      cells.push(value);
      if (j === n) return cells;
      if (row[j] !== delimiter) return null;
      i = j + 1;
    } else {
      const at = row.indexOf(delimiter, i);
      const end = at < 0 ? n : at;
      const cell = row.slice(i, end);
      if (cell.indexOf('"') >= 0) return null;
      cells.push(cell);
      if (at < 0) return cells;
      i = at + 1;
    }
    if (i === n) {
      cells.push('');
      return cells;
    }
  }
}

function countLines(group: string, eol: string): number {
  let n = 0;
  for (let i = group.indexOf(eol); i >= 0; i = group.indexOf(eol, i + eol.length)) n++;
  return group.endsWith(eol) ? n : n + 1;
}

function offsetLines(err: CsvError, lines: number): void {
  const e = err as CsvError & { lines?: number };
  if (typeof e.lines === 'number') e.lines += lines;
}

/** The rest of the file through csv-parse's stream, from a record boundary (`lines` already read). */
async function* streamed(
  head: string,
  rest: AsyncIterator<string>,
  delimiter: string,
  lines: number,
  onRecord?: (raw: string | null) => boolean,
): AsyncGenerator<string[]> {
  async function* source(): AsyncGenerator<string> {
    if (head !== '') yield head;
    for (;;) {
      const next = await rest.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const input = Readable.from(source(), { highWaterMark: 1 });
  // The BOM, if any, was taken off at the start.
  const parser = parse({ ...csvOptions(delimiter), bom: false });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      onRecord?.(null);
      yield record;
    }
  } catch (err) {
    if (err instanceof CsvError) offsetLines(err, lines);
    throw err;
  } finally {
    input.destroy();
  }
}
