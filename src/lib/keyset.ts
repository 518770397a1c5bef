import { ValidationError } from './errors.ts';
import { isId } from './ids.ts';

/**
 * The one keyset-cursor codec: a page's `next` is the sort key of its last row, as base64url
 * JSON, and comes back as `?after=`. Every part is checked against the shape the query expects
 * before it reaches SQL, so a forged cursor is a 400, never a database error.
 *
 * Timestamps travel as PostgreSQL writes them (microseconds, see `KEYSET_AT`): a JavaScript Date
 * keeps only milliseconds, and a row whose time was rounded down would come back on the next page.
 */
export type KeysetPart =
  /** An ISO 8601 UTC timestamp with up to six decimals. */
  | 'date'
  /** A row id (a bigint as a decimal string). */
  | 'id'
  /** 0 or 1. */
  | 'flag'
  /** Any string under 400 characters (e.g. a lower-cased address). */
  | 'text';

export type KeysetValue = string | number;

/** A column as a cursor timestamp: `to_char(<column> at time zone 'UTC', KEYSET_AT)`. */
export const KEYSET_AT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

function fits(kind: KeysetPart, v: unknown): boolean {
  switch (kind) {
    case 'date':
      return typeof v === 'string' && DATE.test(v);
    case 'id':
      return isId(v);
    case 'flag':
      return v === 0 || v === 1;
    case 'text':
      return typeof v === 'string' && v.length < 400;
  }
}

export function encodeKeyset(parts: readonly KeysetValue[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** The parts of a cursor, or undefined when there is none; a cursor of another shape is a ValidationError. */
export function decodeKeyset(raw: string | null | undefined, shape: readonly KeysetPart[]): KeysetValue[] | undefined {
  if (!raw) return undefined;
  if (raw.length <= 2000) {
    try {
      const parts = JSON.parse(Buffer.from(raw, 'base64url').toString()) as unknown;
      if (Array.isArray(parts) && parts.length === shape.length && shape.every((kind, i) => fits(kind, parts[i])))
        return parts as KeysetValue[];
    } catch {
      // fall through
    }
  }
  throw new ValidationError('The "after" cursor (page link) is not valid; start again from the first page.', 'invalid_cursor');
}

/** One page of a keyset query fetched with limit + 1 rows: the page, and the cursor after its last row. */
export function keysetPage<R>(rows: R[], limit: number, key: (last: R) => readonly KeysetValue[]): { page: R[]; next: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, next: rows.length > limit && last !== undefined ? encodeKeyset(key(last)) : null };
}
