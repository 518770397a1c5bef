/**
 * Re-import without re-reading: a row byte for byte the one a member was last imported from, with
 * the same mapping and options, while the member is as that import left them, would change
 * nothing — so staging skips it without parsing it (README.md "Performance").
 *
 * - Each raw record (its text, before csv-split) is hashed to 64 bits, seeded by the import's
 *   options and header line (`optionsKey`): `hashRecord`.
 * - The merge stores, per member, that hash XOR a hash of the member's state after the merge
 *   (`memberStateSql`: address, status, confirmation, tier and access, and whether name, notes,
 *   language and Stripe customer are still empty): members.import_fingerprint.
 * - Staging (in its worker thread) reads `import_fingerprint # state` for every member, as
 *   PostgreSQL computes them (no ORDER BY: the rows stream while the scan runs), and sorts them
 *   itself (a typed array's native sort): equal to a record's hash exactly when the member's state
 *   is unchanged and the record is the one last applied. 8 bytes a member; each hit is used once
 *   per file.
 *
 * Pure: runs in the staging thread. The SQL is shared with merge.ts so both sides agree.
 */

/** The member's state the merge reads, as one int8 (alias: a row of members or of the insert's values). */
export function memberStateSql(alias: string): string {
  const a = alias;
  // Built from hash functions on each typed value (no text conversions: a third of the time of
  // hashing one concatenated text); dates in UTC, so every session's TimeZone agrees.
  return `(hashtextextended(${a}.email, hashtextextended(${a}.status || '|' || ${a}.tier_source, ${a}.tier_id))
    # coalesce(timestamp_hash_extended(${a}.confirmed_at at time zone 'UTC', 1), 0)
    # coalesce(timestamp_hash_extended(${a}.comp_until at time zone 'UTC', 2), 0)
    # ((${a}.stripe_customer_id is null)::int | ((coalesce(${a}.name, '') = '')::int << 1) | ((${a}.notes = '')::int << 2)
       | ((${a}.language is null)::int << 3))::int8)`;
}

/** Every member's stored fingerprint under their current state, as (hi int4, lo 0..2^32-1), in no order: COPY … TO STDOUT. */
export const LOAD_FINGERPRINTS_SQL = `copy (
  select (v >> 32)::int, v & 4294967295 from (
    select m.import_fingerprint # ${memberStateSql('m')} as v from members m where m.import_fingerprint is not null
  ) x
) to stdout`;

/** The result of the last hashRecord call (no allocation per record). */
export const hashed = { hi: 0, lo: 0 };

/**
 * A 64-bit hash of `text` from `seed` (two murmur3-style 32-bit lanes over pairs of UTF-16 code
 * units, each with its own constants): into `hashed.hi` (signed) and `hashed.lo` (unsigned).
 */
export function hashRecord(seedHi: number, seedLo: number, text: string): void {
  let h1 = seedHi | 0;
  let h2 = seedLo | 0;
  const n = text.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    let k1 = Math.imul(k, 0xcc9e2d51);
    k1 = Math.imul((k1 << 15) | (k1 >>> 17), 0x1b873593);
    h1 ^= k1;
    h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
    let k2 = Math.imul(k, 0x85ebca6b);
    k2 = Math.imul((k2 << 17) | (k2 >>> 15), 0xc2b2ae35);
    h2 ^= k2;
    h2 = (Math.imul((h2 << 11) | (h2 >>> 21), 9) + 0x52dce729) | 0;
  }
  if (i < n) {
    const k = text.charCodeAt(i);
    h1 ^= Math.imul(Math.imul(k, 0xcc9e2d51), 0x1b873593);
    h2 ^= Math.imul(Math.imul(k, 0x85ebca6b), 0xc2b2ae35);
  }
  h1 ^= n;
  h2 ^= n;
  // Each lane finished with the other mixed in, so a change anywhere reaches all 64 bits.
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  hashed.hi = h1 | 0;
  hashed.lo = h2 >>> 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The seed of a file's record hashes: its options and its header line. */
export function seedOf(optionsKey: string, header: string): { hi: number; lo: number } {
  hashRecord(0x2545f491, 0x9e3779b9 | 0, optionsKey);
  const hi = hashed.hi;
  const lo = hashed.lo;
  hashRecord(hi, lo, header);
  return { hi: hashed.hi, lo: hashed.lo };
}

/** (hi, lo) as the int8 PostgreSQL stores, in decimal. */
export function int8Text(hi: number, lo: number): string {
  return ((BigInt(hi) << 32n) + BigInt(lo >>> 0)).toString();
}

/** Base-10,000 groups of a magnitude, least significant first (writeInt8's scratch). */
const groups = new Uint16Array(5);

/**
 * Writes (hi, lo) as the int8 PostgreSQL stores, in decimal ASCII, into `out` at `at`; returns the
 * position after it (at most 20 bytes). No BigInt: the magnitude is divided by 10,000 as four
 * 16-bit limbs, each step exact in a double (a staging thread writes a million of these).
 */
export function writeInt8(out: Buffer, at: number, hi: number, lo: number): number {
  let h = hi >>> 0;
  let l = lo >>> 0;
  if (hi < 0) {
    // Two's complement: the magnitude of a negative value.
    l = (~l + 1) >>> 0;
    h = (~h + (l === 0 ? 1 : 0)) >>> 0;
    out[at++] = 45; // '-'
  }
  let l3 = h >>> 16;
  let l2 = h & 0xffff;
  let l1 = l >>> 16;
  let l0 = l & 0xffff;
  let count = 0;
  do {
    let r = l3;
    l3 = Math.floor(r / 10000);
    r = (r - l3 * 10000) * 65536 + l2;
    l2 = Math.floor(r / 10000);
    r = (r - l2 * 10000) * 65536 + l1;
    l1 = Math.floor(r / 10000);
    r = (r - l1 * 10000) * 65536 + l0;
    l0 = Math.floor(r / 10000);
    groups[count++] = r - l0 * 10000;
  } while ((l3 | l2 | l1 | l0) !== 0);
  // The most significant group without leading zeros, the others with four digits each.
  let g = groups[--count]!;
  if (g >= 1000) out[at++] = 48 + Math.floor(g / 1000);
  if (g >= 100) out[at++] = 48 + (Math.floor(g / 100) % 10);
  if (g >= 10) out[at++] = 48 + (Math.floor(g / 10) % 10);
  out[at++] = 48 + (g % 10);
  while (count > 0) {
    g = groups[--count]!;
    out[at] = 48 + Math.floor(g / 1000);
    out[at + 1] = 48 + (Math.floor(g / 100) % 10);
    out[at + 2] = 48 + (Math.floor(g / 10) % 10);
    out[at + 3] = 48 + (g % 10);
    at += 4;
  }
  return at;
}

/** A non-negative integer below 2^53 in decimal ASCII into `out` at `at`; returns the position after it. */
export function writeCount(out: Buffer, at: number, value: number): number {
  let n = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) n++;
  for (let i = at + n - 1, v = value; i >= at; i--, v = Math.floor(v / 10)) out[i] = 48 + (v % 10);
  return at + n;
}

/**
 * Stored fingerprints, sorted as int8: entry i is the int8 at 8·i, which on a little-endian machine
 * is `lo` (unsigned) in word 2·i and `hi` (signed) in word 2·i + 1, so (hi signed, lo unsigned) order.
 */
export interface FingerprintSet {
  /** Word 2·i + 1 of entry i: its high 32 bits, signed. */
  hi: Int32Array;
  /** Word 2·i of entry i: its low 32 bits, unsigned. */
  lo: Uint32Array;
  size: number;
  /**
   * The first entry of each bucket of the high 16 bits (sign bit flipped, so buckets are in
   * order), and the end: a lookup searches ~size/65,536 entries instead of all (fewer cache misses).
   */
  starts: Uint32Array;
}

/** The bucket of a fingerprint's high word: its top 16 bits, in signed order. */
const bucketOf = (hi: number) => ((hi >>> 16) ^ 0x8000) >>> 0;

/** The entry equal to (hi, lo), or -1. */
export function findFingerprint(set: FingerprintSet, hi: number, lo: number): number {
  const bucket = bucketOf(hi);
  let a = set.starts[bucket]!;
  let b = set.starts[bucket + 1]! - 1;
  const H = set.hi;
  const L = set.lo;
  while (a <= b) {
    const m = (a + b) >>> 1;
    const h = H[2 * m + 1]!;
    if (h < hi) a = m + 1;
    else if (h > hi) b = m - 1;
    else {
      const l = L[2 * m]!;
      if (l < lo) a = m + 1;
      else if (l > lo) b = m - 1;
      else return m;
    }
  }
  return -1;
}

/** The set's entry i as (hi, lo). */
export function fingerprintAt(set: FingerprintSet, i: number): { hi: number; lo: number } {
  return { hi: set.hi[2 * i + 1]!, lo: set.lo[2 * i]! };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Reads LOAD_FINGERPRINTS_SQL's text output (lines `hi\tlo`, in any order) into a sorted set;
 * `chunks` yields the COPY stream's buffers. `expected`: how many to make room for at first (the
 * arrays grow as needed).
 */
export async function readFingerprints(chunks: AsyncIterable<Buffer>, expected = 1 << 16): Promise<FingerprintSet> {
  if (!LITTLE_ENDIAN) throw new Error('fingerprints are kept as little-endian int8');
  let words = new Int32Array(2 * Math.max(16, expected));
  let size = 0;
  let column = 0;
  let negative = false;
  let value = 0;
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c >= 48 && c <= 57) value = value * 10 + (c - 48);
      else if (c === 45) negative = true;
      else if (c === 9) {
        column = 1;
        if (2 * size + 2 > words.length) {
          const grown = new Int32Array(words.length * 2);
          grown.set(words);
          words = grown;
        }
        words[2 * size + 1] = negative ? -value : value;
        value = 0;
        negative = false;
      } else if (c === 10) {
        if (column === 1) words[2 * size++] = value | 0;
        column = 0;
        value = 0;
        negative = false;
      }
    }
  }
  // PostgreSQL's int8 order, by a typed array's native sort.
  new BigInt64Array(words.buffer, 0, size).sort();
  const starts = new Uint32Array(65_537);
  let bucket = 0;
  for (let i = 0; i < size; i++) {
    const b = bucketOf(words[2 * i + 1]!);
    while (bucket <= b) starts[bucket++] = i;
  }
  while (bucket <= 65_536) starts[bucket++] = size;
  return { hi: words, lo: new Uint32Array(words.buffer), size, starts };
}
