import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvRecords, SKIPPED, TAKEN_PER_YIELD } from '../../src/domain/imports/csv-split.ts';
import {
  findFingerprint,
  fingerprintAt,
  hashed,
  hashRecord,
  int8Text,
  readFingerprints,
  seedOf,
  writeInt8,
} from '../../src/domain/imports/fingerprint.ts';

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

  it('are found after the round trip through PostgreSQL int8 text in any order, and sorted as PostgreSQL sorts int8', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 60 }), fc.nat(64), async (texts, room) => {
        const seed = seedOf('k', 'h');
        const values = texts.map((t) => BigInt(hashOf(seed, t)));
        const text = values.map(copyLine).join('');
        // Cut anywhere, as COPY's stream delivers it.
        const at = Math.floor(text.length / 3);
        const set = await readFingerprints(
          (async function* () {
            yield Buffer.from(text.slice(0, at));
            yield Buffer.from(text.slice(at));
          })(),
          room,
        );
        expect(set.size).toBe(values.length);
        const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(Array.from({ length: set.size }, (_, i) => fingerprintAt(set, i)).map(({ hi, lo }) => BigInt(int8Text(hi, lo)))).toEqual(
          sorted,
        );
        for (const t of texts) {
          hashRecord(seed.hi, seed.lo, t);
          const i = findFingerprint(set, hashed.hi, hashed.lo);
          expect(i).toBeGreaterThanOrEqual(0);
          expect(int8Text(fingerprintAt(set, i).hi, fingerprintAt(set, i).lo)).toBe(hashOf(seed, t));
        }
        hashRecord(seed.hi, seed.lo, `${texts.join('')}!`);
        expect(findFingerprint(set, hashed.hi, hashed.lo)).toBe(-1);
      }),
    );
  });
});

describe('the fingerprint set', () => {
  it('finds every value read, at the ends of the int8 range and across the buckets of the high word, and no other', async () => {
    const edges = [-(2n ** 63n), -(2n ** 63n) + 1n, -(2n ** 32n), -1n, 0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 48n, 2n ** 63n - 1n];
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 200 }),
        fc.boolean(),
        async (random, withEdges) => {
          const values = [...new Set([...random, ...(withEdges ? edges : [])])];
          const absent = [...edges, ...random.map((v) => v ^ 1n)].filter((v) => !values.includes(v));
          const set = await readFingerprints(
            (async function* () {
              yield Buffer.from(values.map(copyLine).join(''));
            })(),
            1,
          );
          const find = (v: bigint) => findFingerprint(set, Number(BigInt.asIntN(32, v >> 32n)), Number(v & 0xffffffffn));
          for (const v of values) expect(find(v)).toBeGreaterThanOrEqual(0);
          for (const v of absent) expect(find(v)).toBe(-1);
        },
      ),
    );
  });
});

describe('writeInt8', () => {
  it('writes every int8 as PostgreSQL prints it', () => {
    const out = Buffer.alloc(40);
    const check = (v: bigint) => {
      const end = writeInt8(out, 3, Number(BigInt.asIntN(32, v >> 32n)), Number(v & 0xffffffffn));
      expect(out.toString('latin1', 3, end)).toBe(v.toString());
    };
    for (const v of [0n, 1n, -1n, 9999n, 10000n, -10000n, 2n ** 32n, -(2n ** 32n), 2n ** 63n - 1n, -(2n ** 63n)]) check(v);
    fc.assert(fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), check), { numRuns: 5000 });
  });
});

describe('csvRecords with onRecord', () => {
  it('offers each record raw (null when csv-parse read it) and yields none of the ones taken', async () => {
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
    // Taken records are not yielded; the record csv-parse read next gives the consumer its turn.
    expect(out).toEqual([
      ['email', 'name'],
      ['c@x.org', 'two\nlines'],
      ['d@x.org', 'D'],
    ]);
  });

  it('yields SKIPPED after every TAKEN_PER_YIELD taken records in a row, and after the last', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => `r${i}@x.org,${i % 7 === 0 ? '"A, b"' : 'A'}`);
    const text = `email,name\n${rows.join('\n')}`;
    const out: string[][] = [];
    const takenBefore: number[] = [];
    let taken = 0;
    for await (const r of csvRecords(
      (async function* () {
        yield text.slice(0, 10_000);
        yield text.slice(10_000);
      })(),
      ',',
      (raw) => {
        if (raw === null || raw.startsWith('email') || raw.startsWith('r500@')) return false;
        taken++;
        return true;
      },
    )) {
      takenBefore.push(taken);
      taken = 0;
      out.push(r);
    }
    expect(out.filter((r) => r !== SKIPPED)).toEqual([
      ['email', 'name'],
      ['r500@x.org', 'A'],
    ]);
    expect(Math.max(...takenBefore)).toBe(TAKEN_PER_YIELD);
    expect(takenBefore.reduce((a, b) => a + b, 0)).toBe(999);
    expect(out.at(-1)).toBe(SKIPPED);
  });

  it('yields the records not taken as without onRecord, with at most TAKEN_PER_YIELD taken between two yields, SKIPPED last after any', async () => {
    const cell = fc.constantFrom('', 'Ana', 'Acme, Inc.', 'say "hi"', 'two\nlines', "O'Brien", 'é');
    const quote = (c: string, always: boolean) => (always || /[",\n\r]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.array(fc.tuple(cell, fc.boolean()), { maxLength: 3 }),
            fc.boolean(),
            fc.nat(19).map((n) => n > 0),
          ),
          {
            minLength: 1,
            maxLength: 700,
          },
        ),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.nat(40_000), { maxLength: 6 }),
        async (rows, eol, at) => {
          // Row i's address is unique and first, so a raw record names the row it is.
          const text = `email,a,b,c${eol}${rows.map(([cells, q], i) => [quote(`r${i}@x.org`, q), ...cells.map(([c, cq]) => quote(c, cq))].join(',')).join(eol)}${eol}`;
          const points = [...new Set(at.map((a) => a % (text.length + 1)))].sort((a, b) => a - b);
          const pieces: string[] = [];
          let last = 0;
          for (const p of [...points, text.length]) {
            if (p > last) pieces.push(text.slice(last, p));
            last = Math.max(last, p);
          }
          const source = async function* () {
            yield* pieces;
          };
          const all: string[][] = [];
          for await (const r of csvRecords(source(), ',')) all.push(r);
          const takenRows = new Set<string>();
          const out: string[][] = [];
          let takenSinceYield = 0;
          let most = 0;
          for await (const r of csvRecords(source(), ',', (raw) => {
            const row = raw === null ? null : /r(\d+)@x\.org/.exec(raw);
            // As stored fingerprints are: only of whole records (a line that opens a quoted value
            // over the next ones was never a record of its own).
            const [cells, , take] = rows[Number(row?.[1])] ?? [[], false, false];
            if (row === null || !take || cells.some(([c]) => c.includes('\n'))) return false;
            takenRows.add(`r${row[1]}@x.org`);
            takenSinceYield++;
            return true;
          })) {
            most = Math.max(most, takenSinceYield);
            takenSinceYield = 0;
            if (r !== SKIPPED) out.push(r);
          }
          expect(takenSinceYield).toBe(0);
          expect(most).toBeLessThanOrEqual(TAKEN_PER_YIELD);
          expect(out).toEqual(all.filter((r) => !takenRows.has(r[0]!)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
