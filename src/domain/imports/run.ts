/**
 * Imports, phase 2 — the run: the `run_import` job. Streams the stored chunks back through
 * csv-parse and mapRow into the UNLOGGED staging table import_rows with COPY (rejections into
 * import_rejections), then hands over to the merge (merge.ts), which writes members in ONE
 * transaction: an import is all or nothing, and a crash anywhere before that commit is repaired
 * by running again from the chunks.
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parse, type CsvError } from 'csv-parse';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../../../db/types.ts';
import { errorFields, log } from '../../lib/log.ts';
import { ConflictError, DomainError, ValidationError } from '../../lib/errors.ts';
import { isImportFormat, mapRow, type ColumnMapping, type ImportedMember } from './formats.ts';
import { listFields, parseFieldValue, type MemberField } from '../members/fields.ts';
import { mergeStagedRows, planImport } from './merge.ts';
import { getImport, type ImportRecord } from './read.ts';
import { clip, csvOptions, csvProblem, decodedChunks, sniffDelimiter } from './upload.ts';

/**
 * COPY batches. About 1 MB: per-statement overhead is already negligible (parsing, not COPY, is
 * the slow side), and what a batch keeps alive until it is written stays out of V8's old space.
 */
const COPY_BATCH_CHARS = 1024 * 1024;
const COPY_BATCH_REJECTIONS = 10_000;
/** pg_advisory_lock(key1, key2) namespace for "this import is being run". */
export const RUN_LOCK = 0x48_49_4d; // 'HIM': Hearth IMport

/**
 * The job: idempotent (a retry after a crash clears this import's staging and rejections and
 * starts over). Streams chunks from Postgres → csv-parse → mapRow → COPY into import_rows in large
 * batches, recording rejections with their reason; updates bytes_done/rows as it goes; then ONE
 * set-based upsert transaction. Marks 'done' with its counts, or 'failed' with a human-readable
 * error. When sendConfirmation is set and new members are pending, enqueues `import_confirmations`.
 *
 * Needs two connections from the pool: one held for the run (COPY, the merge, an advisory lock
 * so two runners of one import take turns) and one to read the chunks alongside. A lost
 * connection is rethrown, leaving the import 'running' for the job's retry; any other error
 * marks it 'failed'. An import already 'done' or 'failed' is left alone.
 */
export async function runImport(db: Kysely<Database>, pool: pg.Pool, importId: string): Promise<void> {
  const client = await pool.connect();
  let broken = false;
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  const conn = pinnedKysely(client);
  try {
    await sql`select pg_advisory_lock(${RUN_LOCK}, ${lockKey(importId)})`.execute(conn);
    // The run's many small commits (a COPY batch and its progress) need not wait for the disk: a
    // crash loses at most the last of them, and the run stages again from the file.
    await sql`set synchronous_commit = off`.execute(conn);
    try {
      await runLocked(db, conn, client, importId);
    } finally {
      if (!broken) {
        await sql`reset synchronous_commit`.execute(conn).catch(() => undefined);
        await sql`select pg_advisory_unlock(${RUN_LOCK}, ${lockKey(importId)})`.execute(conn).catch(() => undefined);
      }
    }
  } catch (err) {
    if (isConnectionLost(err)) broken = true;
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

async function runLocked(db: Kysely<Database>, conn: Kysely<Database>, client: pg.PoolClient, importId: string): Promise<void> {
  const record = await getImport(conn, importId);
  if (record.status === 'done' || record.status === 'failed' || record.status === 'previewed') return;
  if (record.status === 'uploaded') throw new ConflictError('This import has not been started.', 'import_not_started');

  // Rows staged completely with this very mapping (a preview, or a run that died in the merge)
  // are used as they are: staging is a pure function of the file and the mapping.
  const reuse = record.staged_mapping !== null && JSON.stringify(record.staged_mapping) === JSON.stringify(record.mapping);
  await conn
    .updateTable('imports')
    .set({
      status: 'running',
      started_at: new Date(),
      heartbeat_at: new Date(),
      imported: 0,
      updated: 0,
      error: null,
      ...(reuse ? {} : { bytes_done: 0, rows: 0, rejected: 0, staged_mapping: null }),
    })
    .where('id', '=', record.id)
    .execute();
  if (!reuse) {
    // A crashed earlier attempt left staging and rejections behind; so may finished imports whose
    // clean-up was cut short.
    await conn.deleteFrom('import_rows').where('import_id', '=', record.id).execute();
    await conn.deleteFrom('import_rejections').where('import_id', '=', record.id).execute();
  } else {
    // Only the merge writes 'duplicate of row' rejections, and a merge that died wrote none.
    await conn.deleteFrom('import_rejections').where('import_id', '=', record.id).where('reason', 'like', 'duplicate of row %').execute();
  }
  await sql`delete from import_rows where import_id in (select id from imports where status in ('done', 'failed'))`.execute(conn);

  try {
    const started = performance.now();
    let rows = record.rows;
    if (!reuse) {
      rows = await stageRows(db, conn, client, record);
      await conn
        .updateTable('imports')
        .set({ staged_mapping: JSON.stringify(record.mapping), heartbeat_at: new Date() })
        .where('id', '=', record.id)
        .execute();
    }
    const staged = performance.now();
    const current = await getImport(conn, record.id);
    if (current.preview_only) {
      await holdForStaff(conn, current);
      return;
    }
    const paying = current.confirm_free
      ? []
      : await conn
          .selectFrom('import_rows')
          .select('row_number')
          .where('import_id', '=', record.id)
          .where('access', 'is not', null)
          .limit(1)
          .execute();
    if (paying.length > 0) {
      // Paying members might arrive as free: the plan says whether they would, and staff decide.
      const summary = await planImport(conn, current);
      if (summary.needs_confirmation) {
        await conn
          .updateTable('imports')
          .set({
            status: 'previewed',
            summary: JSON.stringify(summary),
            error: summary.messages.at(-1) ?? null,
            rejected: await countRejections(conn, record.id),
          })
          .where('id', '=', record.id)
          .execute();
        return;
      }
    }
    const counts = await mergeStagedRows(conn, current, rows);
    const merged = performance.now();
    log.info('import done', {
      importId: record.id,
      rows,
      ...counts,
      stageSeconds: Math.round(staged - started) / 1000,
      mergeSeconds: Math.round(merged - staged) / 1000,
    });
  } catch (err) {
    if (isConnectionLost(err)) throw err;
    const message =
      err instanceof DomainError
        ? err.message
        : 'The import stopped because of an unexpected error (the server log has the details). Nothing was imported: upload the file again, and contact support if it happens again.';
    // A file staff must fix is not a fault of the server.
    (err instanceof DomainError ? log.info : log.error)('import failed', { importId: record.id, ...errorFields(err) });
    // Through the pool: this connection may be unusable after the error.
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('imports')
        .set({ status: 'failed', error: message, finished_at: new Date() })
        .where('id', '=', record.id)
        .execute();
      await trx.deleteFrom('import_rejections').where('import_id', '=', record.id).execute();
      await trx.deleteFrom('import_chunks').where('import_id', '=', record.id).execute();
    });
    await db.deleteFrom('import_rows').where('import_id', '=', record.id).execute();
  }
}

/** Rows refused while staging (duplicates are counted by the merge). */
async function countRejections(conn: Kysely<Database>, importId: string): Promise<number> {
  const row = await conn
    .selectFrom('import_rejections')
    .select(sql<string>`count(*)`.as('n'))
    .where('import_id', '=', importId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A preview: the plan is computed and stored, the staged rows and the file stay for the real run. */
async function holdForStaff(conn: Kysely<Database>, record: ImportRecord): Promise<void> {
  const summary = await planImport(conn, record);
  await conn
    .updateTable('imports')
    .set({ status: 'previewed', summary: JSON.stringify(summary), error: null, rejected: await countRejections(conn, record.id) })
    .where('id', '=', record.id)
    .execute();
}

/**
 * Parses the stored file into import_rows and import_rejections; returns the number of data rows.
 * Row numbers are those a spreadsheet shows: the header is row 1, the first member row 2.
 * Parsing (this process) and COPY (the database) overlap: one batch is written while the next is
 * parsed.
 */
async function stageRows(db: Kysely<Database>, conn: Kysely<Database>, client: pg.PoolClient, record: ImportRecord): Promise<number> {
  const format = record.format;
  const mapping = record.mapping as unknown as ColumnMapping;
  if (!isImportFormat(format) || typeof mapping.email !== 'number') throw new Error(`import ${record.id} has no valid format or mapping`);
  const first = await readChunk(db, record.id, 0);
  if (!first) throw new ValidationError('The uploaded file is no longer stored. Upload it again.', 'import_file_missing');

  let bytesRead = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    let next: Buffer | undefined = first;
    for (let seq = 1; next !== undefined; seq++) {
      bytesRead += next.byteLength;
      yield next;
      next = await readChunk(db, record.id, seq);
    }
  }
  const source = Readable.from(decodedChunks(chunks(), record.encoding), { highWaterMark: 1 });
  const parser = parse(csvOptions(sniffDelimiter(first)));
  source.on('error', (err) => parser.destroy(err));
  source.pipe(parser);

  const prefix = `${record.id}\t`;
  const now = new Date();
  // Custom fields: a column no other field reads, whose header is a field's key (README "Custom member fields").
  const customFields = await listFields(db);
  let fieldColumns: Array<{ index: number; field: MemberField }> = [];
  let rowLines: string[] = [];
  let rejectionLines: string[] = [];
  let pendingChars = 0;
  let records = 0;
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    const rows = rowLines;
    const rejections = rejectionLines;
    const progress = { bytes: bytesRead, rows: Math.max(0, records - 1) };
    rowLines = [];
    rejectionLines = [];
    pendingChars = 0;
    await writing;
    writing = writeBatch(conn, client, record.id, rows, rejections, progress);
    // Awaited at the next flush; until then a failure must not count as unhandled.
    writing.catch(() => undefined);
  };

  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      records++;
      if (records === 1) {
        // The header row, already mapped at upload; only the custom field columns are read here.
        fieldColumns = fieldColumnsOf(cells, mapping, customFields);
        continue;
      }
      const result = mapRow(format, mapping, cells, { now });
      const values = result.ok ? fieldValuesOf(fieldColumns, cells) : null;
      if (result.ok && typeof values === 'string') {
        rejectionLines.push(`${prefix}${records}\t${copyText(clip(result.member.email, 320))}\t${copyText(values)}\n`);
      } else if (result.ok) {
        const line = prefix + stagingLine(records, result.member, values as Record<string, unknown> | null);
        rowLines.push(line);
        pendingChars += line.length;
      } else {
        rejectionLines.push(
          `${prefix}${records}\t${copyText(result.email === null ? null : clip(result.email, 320))}\t${copyText(result.reason)}\n`,
        );
      }
      if (pendingChars >= COPY_BATCH_CHARS || rejectionLines.length >= COPY_BATCH_REJECTIONS) await flush();
    }
    await flush();
    await writing;
  } catch (err) {
    await writing.catch(() => undefined);
    if (err instanceof Error && typeof (err as Partial<CsvError>).code === 'string' && (err as CsvError).code.startsWith('CSV_')) {
      throw new ValidationError(`The file could not be read as CSV: ${csvProblem(err)}. Nothing was imported.`, 'import_not_csv');
    }
    throw err;
  } finally {
    source.destroy();
  }
  const rows = Math.max(0, records - 1);
  await conn.updateTable('imports').set({ bytes_done: bytesRead, rows }).where('id', '=', record.id).execute();
  return rows;
}

async function readChunk(db: Kysely<Database>, importId: string, seq: number): Promise<Buffer | undefined> {
  const row = await db
    .selectFrom('import_chunks')
    .select('data')
    .where('import_id', '=', importId)
    .where('seq', '=', seq)
    .executeTakeFirst();
  return row?.data;
}

async function writeBatch(
  conn: Kysely<Database>,
  client: pg.PoolClient,
  importId: string,
  rows: string[],
  rejections: string[],
  progress: { bytes: number; rows: number },
): Promise<void> {
  if (rows.length > 0) {
    await copyInto(
      client,
      'copy import_rows (import_id, row_number, email, name, status, created_at, labels, utm_source, utm_medium, utm_campaign, referrer, ' +
        'notes, plan, access, access_until, stripe_customer_id, state_at, confirmed_at, newsletters, platform, ref, referral_code, fields) from stdin',
      rows,
    );
  }
  if (rejections.length > 0) await copyInto(client, 'copy import_rejections (import_id, row_number, email, reason) from stdin', rejections);
  await conn
    .updateTable('imports')
    .set({ bytes_done: progress.bytes, rows: progress.rows, heartbeat_at: new Date() })
    .where('id', '=', importId)
    .execute();
}

async function copyInto(client: pg.PoolClient, statement: string, lines: string[]): Promise<void> {
  const stream = client.query(copyFrom(statement));
  stream.end(lines.join(''));
  await finished(stream);
}

/** One import_rows line in COPY's text format (the import_id column is prefixed by the caller). */
function stagingLine(rowNumber: number, m: ImportedMember, fields: Record<string, unknown> | null): string {
  return `${rowNumber}\t${copyText(m.email)}\t${copyText(m.name)}\t${m.status}\t${copyDate(m.createdAt)}\t${
    m.labels.length === 0 ? '{}' : copyText(arrayLiteral(m.labels))
  }\t${copyText(m.utmSource)}\t${copyText(m.utmMedium)}\t${copyText(m.utmCampaign)}\t${copyText(m.referrer)}\t${copyText(m.notes)}\t${copyText(
    m.plan,
  )}\t${copyText(m.access)}\t${copyDate(m.accessUntil)}\t${copyText(m.stripeCustomerId)}\t${copyDate(m.stateAt)}\t${copyDate(m.confirmedAt)}\t${
    m.newsletters === null ? '\\N' : copyText(arrayLiteral(m.newsletters))
  }\t${copyText(m.platform)}\t${copyText(m.ref)}\t${copyText(m.referralCode)}\t${fields === null ? '\\N' : copyText(JSON.stringify(fields))}\n`;
}

/** The columns that feed custom fields: header equal to a field's key (case and spaces aside), not read by another field. */
function fieldColumnsOf(headers: string[], mapping: ColumnMapping, fields: MemberField[]): Array<{ index: number; field: MemberField }> {
  const used = new Set(Object.values(mapping));
  const out: Array<{ index: number; field: MemberField }> = [];
  headers.forEach((h, index) => {
    const key = String(h)
      .replace(/^\uFEFF/, '')
      .trim()
      .toLowerCase();
    const field = fields.find((f) => f.key === key);
    if (field && !used.has(index) && !out.some((o) => o.field.key === field.key)) out.push({ index, field });
  });
  return out;
}

/** A row's field values (null: none), or the reason one is not valid (the row is rejected with it). */
function fieldValuesOf(columns: Array<{ index: number; field: MemberField }>, cells: string[]): Record<string, unknown> | null | string {
  if (columns.length === 0) return null;
  const values: Record<string, unknown> = {};
  for (const { index, field } of columns) {
    try {
      const value = parseFieldValue(field, cells[index] ?? '');
      if (value !== null) values[field.key] = value;
    } catch (err) {
      if (err instanceof ValidationError) return err.message;
      throw err;
    }
  }
  return Object.keys(values).length > 0 ? values : null;
}

function copyDate(value: Date | null): string {
  return value === null ? '\\N' : value.toISOString();
}

const COPY_SPECIAL = /[\\\t\n\r\u0000]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\u0000': '' };

/** A value in COPY's text format: \N for null; backslash, tab and line breaks escaped; NUL dropped (text cannot hold it). */
function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r\u0000]/g, (c) => COPY_ESCAPES[c]!) : value;
}

function arrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}
/**
 * A Kysely bound to one checked-out client, so the run's statements, its transaction and its
 * COPY share one session (and its advisory lock). Never destroyed: the client goes back to the pool.
 */
function pinnedKysely(client: pg.PoolClient): Kysely<Database> {
  const pinned = {
    query: client.query.bind(client),
    release: () => undefined,
    processID: (client as unknown as { processID?: number }).processID,
  } as unknown as PostgresPoolClient;
  const pool: PostgresPool = { connect: async () => pinned, end: async () => undefined, options: {} };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

function lockKey(importId: string): number {
  // The second key of the two-int form; ids 2^31 apart share a lock, which only makes them take turns.
  return Number(BigInt(importId) % 2_147_483_647n);
}

/** Whether the database connection itself failed (as opposed to a statement in it). */
function isConnectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (
    typeof code === 'string' &&
    (code.startsWith('08') || code.startsWith('57P') || ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT'].includes(code))
  )
    return true;
  return err instanceof Error && /Connection terminated|Client has encountered a connection error|not queryable/i.test(err.message);
}

/** Gives up on an import whose job has used its last attempt (the database kept dropping it). */
export async function markImportFailed(db: Kysely<Database>, importId: string, reason: string): Promise<void> {
  await db
    .updateTable('imports')
    .set({ status: 'failed', error: reason, finished_at: new Date() })
    .where('id', '=', importId)
    .where('status', 'in', ['queued', 'running'])
    .execute();
  await db.deleteFrom('import_rows').where('import_id', '=', importId).execute();
}
