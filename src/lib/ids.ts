/**
 * Row ids are Postgres bigints, carried as decimal strings. Anything else in a path or a field is
 * not an id: checking the shape first turns "/members/abc" into a 404 instead of a database error.
 */
export const ID_PATTERN = '\\d{1,18}';

const ID = new RegExp(`^${ID_PATTERN}$`);

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}
