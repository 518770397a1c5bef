import { describe, expect, it } from 'vitest';
import { stageFile } from '../../src/domain/imports/stage.ts';

// Staging parses in microtasks. A COPY it hands to a socket goes out only when the event loop
// turns: without a turn every few hundred rows, PostgreSQL waited for each batch while the next one
// was parsed, and the next flush waited for that COPY (2.7 s of a million rows in the thread).
describe('staging and the event loop', () => {
  it('lets the loop turn at least once per 256 rows of one chunk, and stages every row', async () => {
    const rows = 10_000;
    const file = Buffer.from(['email,name', ...Array.from({ length: rows }, (_, i) => `reader${i}@example.com,Reader ${i}`)].join('\n'));
    let turns = 0;
    let spinning = true;
    const spin = () => {
      if (!spinning) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    let staged = 0;
    const result = await stageFile(
      {
        importId: '1',
        format: 'generic',
        mapping: { email: 0, name: 1 },
        encoding: 'utf-8',
        fields: [],
        now: Date.UTC(2026, 0, 1),
        languages: [],
        optionsKey: 'test',
      },
      {
        // Everything answers at once (no I/O): only staging itself can give the loop a turn.
        readChunk: async (seq) => (seq === 0 ? file : undefined),
        copy: async (statement, text) => {
          if (statement.startsWith('copy import_rows')) staged += String(text).split('\n').length - 1;
        },
        progress: async () => undefined,
      },
    );
    spinning = false;
    expect(result.rows).toBe(rows);
    expect(staged).toBe(rows);
    expect(turns).toBeGreaterThanOrEqual(Math.floor(rows / 256) - 1);
  });
});
