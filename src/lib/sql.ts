import { sql, type RawBuilder } from 'kysely';

/**
 * The database's clock, as a value for a timestamp column in `.values()`, `.set()` or `.where()`:
 * `dbNow()` is `now()`, `dbNow({ days: 30 })` is thirty days later, `dbNow({ seconds: -1 })` a
 * second ago. Timestamps the database writes come from one clock (the database's), never from
 * the app servers', whose clocks may differ. Kysely takes the expression as it is: no cast.
 */
export function dbNow(offset?: { days?: number; hours?: number; minutes?: number; seconds?: number }): RawBuilder<Date> {
  if (!offset) return sql<Date>`now()`;
  return sql<Date>`now() + make_interval(days => ${offset.days ?? 0}, hours => ${offset.hours ?? 0}, mins => ${offset.minutes ?? 0}, secs => ${offset.seconds ?? 0})`;
}
