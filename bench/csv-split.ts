/**
 * The CSV reader alone, no database: csv-parse's stream (staging before) against csv-split.ts
 * (staging now), alternated in one process on the same file, with and without mapRow.
 * Usage: node bench/csv-split.ts [FILE.csv] [rounds]   (default: the benchmark's 1M-row Mailchimp file
 * from bench/import.ts, 2 rounds). Prints µs per row for each reader.
 */
import { createReadStream } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { csvRecords } from '../src/domain/imports/csv-split.ts';
import { detectFormat, mapColumns, mapRow, type ColumnMapping, type ImportFormat } from '../src/domain/imports/formats.ts';
import { csvOptions } from '../src/domain/imports/upload.ts';

const file = process.argv[2] ?? join(tmpdir(), 'hearth-bench-import-1000000.csv');
const rounds = Number(process.argv[3] ?? 2);

async function* texts(): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) yield decoder.decode(chunk as Buffer, { stream: true });
}

async function run(reader: 'csv-parse' | 'csv-split', map: boolean): Promise<{ rows: number; usPerRow: number }> {
  const records: AsyncIterable<string[]> =
    reader === 'csv-split' ? csvRecords(texts(), ',') : (createReadStream(file).pipe(parse(csvOptions(','))) as AsyncIterable<string[]>);
  let rows = 0;
  let format: ImportFormat = 'generic';
  let mapping: ColumnMapping = { email: 0 };
  const now = new Date();
  const t0 = performance.now();
  for await (const cells of records) {
    if (rows++ === 0) {
      format = detectFormat(cells) ?? 'generic';
      mapping = mapColumns(format, cells);
      continue;
    }
    if (map) mapRow(format, mapping, cells, { now, languages: [{ code: 'en', name: 'English' }] });
  }
  const ms = performance.now() - t0;
  return { rows: rows - 1, usPerRow: Number(((ms * 1000) / (rows - 1)).toFixed(2)) };
}

for (let i = 0; i < rounds; i++) {
  for (const map of [false, true]) {
    for (const reader of ['csv-parse', 'csv-split'] as const) {
      console.log(JSON.stringify({ reader, mapRow: map, ...(await run(reader, map)), load: loadavg()[0]!.toFixed(1) }));
    }
  }
}
