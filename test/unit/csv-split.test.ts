import fc from 'fast-check';
import { parse } from 'csv-parse';
import { describe, expect, it } from 'vitest';
import { csvRecords } from '../../src/domain/imports/csv-split.ts';
import { csvOptions } from '../../src/domain/imports/upload.ts';

/**
 * What csv-parse's stream makes of the text, as staging used it before: records, or the error's
 * code. (Its line number, shown to staff, is checked on ordinary files below: csv-parse counts a
 * stray carriage return as a line of its own.)
 */
async function reference(text: string, delimiter: string): Promise<unknown> {
  const parser = parse(csvOptions(delimiter));
  const out: string[][] = [];
  try {
    parser.end(text);
    for await (const r of parser as AsyncIterable<string[]>) out.push(r);
    return out;
  } catch (err) {
    return { code: (err as { code?: string }).code };
  }
}

async function fast(pieces: string[], delimiter: string): Promise<unknown> {
  const out: string[][] = [];
  try {
    for await (const r of csvRecords(
      (async function* () {
        yield* pieces;
      })(),
      delimiter,
    ))
      out.push(r);
    return out;
  } catch (err) {
    return { code: (err as { code?: string }).code };
  }
}

/** Cuts a text into pieces at the given offsets (chunks of a file as the upload stored them). */
function cut(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((a) => a % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let last = 0;
  for (const p of points) {
    pieces.push(text.slice(last, p));
    last = p;
  }
  pieces.push(text.slice(last));
  return pieces.filter((p) => p !== '');
}

describe('csvRecords', () => {
  it('gives exactly the records (or the error) csv-parse gives, on arbitrary text cut anywhere', async () => {
    const char = fc.constantFrom('a', 'b', 'é', ' ', ',', ';', '\t', '"', '"', '\n', '\n', '\r\n', '\r', "'", '\uFEFF');
    await fc.assert(
      fc.asyncProperty(
        fc.array(char, { maxLength: 80 }).map((c) => c.join('')),
        fc.constantFrom(',', ';', '\t'),
        fc.array(fc.nat(200), { maxLength: 5 }),
        async (text, delimiter, at) => {
          expect(await fast(cut(text, at), delimiter)).toEqual(await reference(text, delimiter));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('on export-like files: quoted cells with commas, doubled quotes and line breaks, CRLF, ragged and blank rows', async () => {
    const cell = fc.oneof(
      fc.constantFrom('', 'Ana', 'reader@example.com', 'Acme, Inc.', 'say "hi"', 'two\nlines', "O'Brien", '5" screen', ' ', 'x\r\ny'),
      fc.string({ maxLength: 6 }),
    );
    const quoteIfNeeded = (c: string, always: boolean) => (always || /[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(cell, fc.boolean()), { maxLength: 6 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.array(fc.nat(400), { maxLength: 4 }),
        async (rows, eol, bom, at) => {
          const text = (bom ? '\uFEFF' : '') + rows.map((r) => r.map(([c, q]) => quoteIfNeeded(c, q)).join(',')).join(eol) + eol;
          expect(await fast(cut(text, at), ',')).toEqual(await reference(text, ','));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('reads a large file the same, and counts lines for an error far down', async () => {
    const good = Array.from({ length: 20_000 }, (_, i) =>
      i % 3 === 0 ? `r${i}@example.com,"Acme, Inc.",${i}` : `r${i}@example.com,Ann,${i}`,
    );
    const text = `email,company,n\n${good.join('\n')}\nbad@example.com,"open\n` + 'x,y\n'.repeat(10);
    const pieces = cut(text, [1000, 65_536, 200_000, 300_000]);
    expect(await fast(pieces, ',')).toEqual(await reference(text, ','));
    const lines = async (f: () => AsyncIterable<unknown>) => {
      try {
        for await (const _ of f());
      } catch (err) {
        return (err as { lines?: number }).lines;
      }
    };
    const streamLines = await lines(() => {
      const p = parse(csvOptions(','));
      p.end(text);
      return p as AsyncIterable<unknown>;
    });
    expect(streamLines).toBeGreaterThan(20_000);
    expect(
      await lines(() =>
        csvRecords(
          (async function* () {
            yield* pieces;
          })(),
          ',',
        ),
      ),
    ).toBe(streamLines);
    const clean = `email,company,n\n${good.join('\n')}\n`;
    expect(await fast(cut(clean, [7, 99_999]), ',')).toEqual(await reference(clean, ','));
  });
});
