import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvRecords, SKIPPED } from '../../src/domain/imports/csv-split.ts';
import { findFingerprint, hashed, hashRecord, int8Text, readFingerprints, seedOf } from '../../src/domain/imports/fingerprint.ts';

const hashOf = (seed: { hi: number; lo: number }, text: string) => {
  hashRecord(seed.hi, seed.lo, text);
  return int8Text(hashed.hi, hashed.lo);
};

/** int8 text → the (hi, lo) lines LOAD_FINGERPRINTS_SQL prints (hi = v >> 32 signed, lo = v & 0xffffffff). */
const copyLine = (v: bigint) => `${v >> 32n}\t${v & 0xffffffffn}\n`;

describe('record fingerprints', () => {
  it('depend on every character, the options and the header; equal text gives the equal hash', () => {
    const seed = seedOf('["options"]', 'email,name');
    expect(hashOf(seed, 'ana@example.com,Ana')).toBe(hashOf(seedOf('["options"]', 'email,name'), 'ana@example.com,Ana'));
    const seen = new Set([
      hashOf(seed, 'ana@example.com,Ana'),
      hashOf(seed, 'ana@example.com,Anb'),
      hashOf(seed, 'ana@example.com,Ana,'),
      hashOf(seed, 'Ana@example.com,Ana'),
      hashOf(seedOf('["other"]', 'email,name'), 'ana@example.com,Ana'),
      hashOf(seedOf('["options"]', 'email,first'), 'ana@example.com,Ana'),
    ]);
    expect(seen.size).toBe(6);
  });

  it('are found after the round trip through PostgreSQL int8 text, sorted as PostgreSQL sorts int8', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 60 }), async (texts) => {
        const seed = seedOf('k', 'h');
        const values = texts.map((t) => BigInt(hashOf(seed, t))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const text = values.map(copyLine).join('');
        // Cut anywhere, as COPY's stream delivers it.
        const at = Math.floor(text.length / 3);
        const set = await readFingerprints(
          (async function* () {
            yield Buffer.from(text.slice(0, at));
            yield Buffer.from(text.slice(at));
          })(),
          values.length,
        );
        expect(set.size).toBe(values.length);
        for (const t of texts) {
          hashRecord(seed.hi, seed.lo, t);
          const i = findFingerprint(set, hashed.hi, hashed.lo);
          expect(i).toBeGreaterThanOrEqual(0);
          expect(int8Text(set.hi[i]!, set.lo[i]!)).toBe(hashOf(seed, t));
        }
        hashRecord(seed.hi, seed.lo, `${texts.join('')}!`);
        expect(findFingerprint(set, hashed.hi, hashed.lo)).toBe(-1);
      }),
    );
  });
});

describe('csvRecords with onRecord', () => {
  it('offers each record raw (null when csv-parse read it) and yields SKIPPED for the ones taken', async () => {
    const text = 'email,name\na@x.org,A\n"b@x.org","B, b"\n"c@x.org","two\nlines"\n,\nd@x.org,D\n';
    const seen: Array<string | null> = [];
    const out: string[][] = [];
    for await (const r of csvRecords(
      (async function* () {
        yield text;
      })(),
      ',',
      (raw) => {
        seen.push(raw);
        return raw === 'a@x.org,A' || raw === '"b@x.org","B, b"';
      },
    ))
      out.push(r);
    expect(seen).toEqual(['email,name', 'a@x.org,A', '"b@x.org","B, b"', '"c@x.org","two', null, ',', 'd@x.org,D']);
    expect(out).toEqual([['email', 'name'], SKIPPED, SKIPPED, ['c@x.org', 'two\nlines'], ['d@x.org', 'D']]);
  });
});
