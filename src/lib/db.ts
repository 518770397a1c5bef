import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../../db/types.ts';
import { log, errorFields } from './log.ts';

// bigint (int8) columns arrive as strings: ids stay exact past 2^53. count(*) is int8 too;
// callers convert with Number() where a count is small enough by nature.

// A `date` column is a calendar day, not an instant: it is read as that day's midnight UTC, as the
// code that reads it assumes (toISOString().slice(0, 10), formatDate(…, 'UTC'), getUTCDay()). pg's
// own parser makes it local midnight, which east of Greenwich (TZ=Europe/Paris on a laptop or a CI
// machine) is the evening before in UTC: a gift's delivery day or a stats day one day early.
// Infinity and BC dates keep pg's reading. And a Date sent as a parameter is written in UTC (an
// instant is the same either way), so a day read back into a query (`${day}::date`) stays that day.
// Set once for the process, for every pool and client.
const pgDate = pg.types.getTypeParser(pg.types.builtins.DATE);
pg.types.setTypeParser(pg.types.builtins.DATE, (value: string): unknown =>
  /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : pgDate(value),
);
pg.defaults.parseInputDatesAsUTC = true;

export interface DatabaseHandle {
  db: Kysely<Database>;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function createDatabase(url: string, options: { max?: number; applicationName?: string } = {}): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'hearth',
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's error (e.g. 57P01 when the server shuts down first) must not crash the process.
  pool.on('error', (err) => log.warn('idle database client error', errorFields(err)));
  pool.on('connect', (client) => client.on('error', (err) => log.warn('database client error', errorFields(err))));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    db,
    pool,
    close() {
      closing ??= db.destroy();
      return closing;
    },
  };
}

/** A one-line reason why the database cannot be reached, for start-up errors. */
export async function checkConnection(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const u = new URL(url);
    return `cannot connect to the database at ${u.hostname}:${u.port || 5432}${u.pathname} (${e.code ?? ''}${e.code ? ': ' : ''}${e.message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function databaseIsUp(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}
