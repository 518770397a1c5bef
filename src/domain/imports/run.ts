/**
 * Imports, phase 2 — the run: the `run_import` job. Streams the stored chunks back through
 * csv-parse and mapRow into the UNLOGGED staging table import_rows with COPY (rejections into
 * import_rejections), then hands over to the merge (merge.ts), which writes members in ONE
 * transaction: an import is all or nothing, and a crash anywhere before that commit is repaired
 * by running again from the chunks.
 */
import { finished } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { Kysely, PostgresDialect, sql, type PostgresPool, type PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../../../db/types.ts';
import { errorFields, log } from '../../lib/log.ts';
import { ConflictError, DomainError, ValidationError } from '../../lib/errors.ts';
import type { ColumnMapping } from './formats.ts';
import { listFields } from '../members/fields.ts';
import { availableLanguages } from '../../lib/i18n.ts';
import { mergeStagedRows, planImport } from './merge.ts';
import { getImport, type ImportRecord } from './read.ts';
import { readStoredChunk, stageFile, type StageInput } from './stage.ts';
import type { StageWorkerData, StageWorkerMessage } from './stage-worker.ts';

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
      await runLocked(db, conn, client, pool, importId);
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

async function runLocked(
  db: Kysely<Database>,
  conn: Kysely<Database>,
  client: pg.PoolClient,
  pool: pg.Pool,
  importId: string,
): Promise<void> {
  const record = await getImport(conn, importId);
  if (record.status === 'done' || record.status === 'failed' || record.status === 'previewed') return;
  if (record.status === 'uploaded') throw new ConflictError('This import has not been started.', 'import_not_started');

  // Rows staged completely with this very mapping (a preview, or a run that died in the merge)
  // are used as they are: staging is a pure function of the file and the mapping — and of the
  // options too when rows were skipped as unchanged (fingerprint.ts; staged_key says which).
  const input = await stageInputOf(db, record);
  const reuse =
    record.staged_mapping !== null &&
    JSON.stringify(record.staged_mapping) === JSON.stringify(record.mapping) &&
    (record.staged_key === null || record.staged_key === input.optionsKey);
  await conn
    .updateTable('imports')
    .set({
      status: 'running',
      started_at: new Date(),
      heartbeat_at: new Date(),
      imported: 0,
      updated: 0,
      error: null,
      ...(reuse ? {} : { bytes_done: 0, rows: 0, rejected: 0, staged_mapping: null, staged_key: null }),
    })
    .where('id', '=', record.id)
    .execute();
  if (!reuse) {
    // A crashed earlier attempt left staging and rejections behind; so may finished imports whose
    // clean-up was cut short.
    await conn.deleteFrom('import_rows').where('import_id', '=', record.id).execute();
    await conn.deleteFrom('import_skips').where('import_id', '=', record.id).execute();
    await conn.deleteFrom('import_rejections').where('import_id', '=', record.id).execute();
  } else {
    // Only the merge writes 'duplicate of row' rejections, and a merge that died wrote none.
    await conn.deleteFrom('import_rejections').where('import_id', '=', record.id).where('reason', 'like', 'duplicate of row %').execute();
  }
  await sql`delete from import_rows where import_id in (select id from imports where status in ('done', 'failed'))`.execute(conn);
  await sql`delete from import_skips where import_id in (select id from imports where status in ('done', 'failed'))`.execute(conn);
  // A done import's file, when the process died between the merge's commit and its deletion.
  await sql`delete from import_chunks where import_id in (select id from imports where status in ('done', 'failed'))`.execute(conn);

  try {
    const started = performance.now();
    let rows = record.rows;
    if (!reuse) {
      const staged = await stageRows(conn, client, pool, record, input);
      rows = staged.rows;
      await conn
        .updateTable('imports')
        .set({
          staged_mapping: JSON.stringify(record.mapping),
          staged_key: staged.skipped > 0 ? input.optionsKey : null,
          heartbeat_at: new Date(),
        })
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
    await db.deleteFrom('import_skips').where('import_id', '=', record.id).execute();
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
 * Parses the stored file into import_rows and import_rejections (stage.ts); returns the number of
 * data rows. A file of at least `staging.threadBytes` is staged by a worker thread with its own
 * connections and a heap of fixed size (stage-worker.ts), so the server's memory stays flat
 * whatever the file's size; a smaller one in this session (a thread costs ~0.2 s to start).
 * Progress (bytes_done, rows, heartbeat_at) is written here, in the run's session, per batch.
 */
async function stageRows(
  conn: Kysely<Database>,
  client: pg.PoolClient,
  pool: pg.Pool,
  record: ImportRecord,
  input: StageInput,
): Promise<{ rows: number; skipped: number }> {
  let updating: Promise<unknown> = Promise.resolve();
  const progress = (done: { bytes: number; rows: number }) => {
    updating = updating.then(() =>
      conn
        .updateTable('imports')
        .set({ bytes_done: done.bytes, rows: done.rows, heartbeat_at: new Date() })
        .where('id', '=', record.id)
        .execute(),
    );
    return updating;
  };
  const result =
    Number(record.bytes) >= staging.threadBytes
      ? await stageInThread(pool, input, (done) => {
          void progress(done).catch(() => undefined);
        })
      : await stageFile(input, {
          readChunk: (seq) => readStoredChunk((text, values) => pool.query<{ piece: Buffer }>(text, values), record.id, seq),
          copy: (statement, text) => copyInto(client, statement, text),
          progress: async (done) => {
            await progress(done);
          },
        });
  await updating;
  await conn.updateTable('imports').set({ bytes_done: result.bytes, rows: result.rows }).where('id', '=', record.id).execute();
  return result;
}

/**
 * What staging reads besides the file. `optionsKey` is everything else that decides what a row
 * does to a member (format, mapping, encoding, options, plans, the site's fields, languages and
 * tiers): a row is skipped as unchanged only if its import had the same (fingerprint.ts).
 */
async function stageInputOf(db: Kysely<Database>, record: ImportRecord): Promise<StageInput> {
  const fields = await listFields(db);
  const languages = availableLanguages().map((l) => ({ code: l.code, name: l.name }));
  const tiers = await db.selectFrom('tiers').select(['id', 'slug', 'name']).orderBy('id').execute();
  const optionsKey = JSON.stringify([
    FINGERPRINT_VERSION,
    record.format,
    record.mapping,
    record.encoding,
    record.mark_confirmed,
    record.confirm_free,
    record.newsletter_id,
    record.plans,
    fields,
    languages,
    tiers,
  ]);
  return {
    importId: record.id,
    format: record.format,
    mapping: record.mapping as unknown as ColumnMapping,
    encoding: record.encoding,
    fields,
    now: Date.now(),
    languages,
    optionsKey,
  };
}

/** Bumped when what a staged row means changes (formats.ts, the merge's rules): every row is read again. */
const FINGERPRINT_VERSION = 1;

/** Files staged by a worker thread from this size up, and the thread's heap (tests lower the size). */
export const staging = { threadBytes: 8 * 1024 * 1024, limits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 } };
// Named through a variable: the web bundle (Vite) must not treat the thread's file as an asset.
const STAGE_WORKER_FILE = './stage-worker.ts';

/** stageFile in a worker thread (stage-worker.ts); its errors come back as they were (a ValidationError stays one). */
function stageInThread(
  pool: pg.Pool,
  input: StageInput,
  onProgress: (done: { bytes: number; rows: number }) => void,
): Promise<{ rows: number; bytes: number; skipped: number }> {
  const options = (pool as unknown as { options: Record<string, unknown> }).options;
  // The pool's own settings (a URL, host, user, …); what cannot cross to a thread is left out.
  const connection = Object.fromEntries(
    Object.entries(options).filter(([key, value]) => key !== 'max' && ['string', 'number', 'boolean'].includes(typeof value)),
  ) as pg.ClientConfig;
  connection.application_name = `${String(options.application_name ?? 'hearth')} import`;
  const workerData: StageWorkerData = { connection, input };
  const worker = new Worker(new URL(STAGE_WORKER_FILE, import.meta.url), { workerData, resourceLimits: staging.limits });
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    worker.on('message', (message: StageWorkerMessage) => {
      if (message.type === 'progress') onProgress(message);
      else if (message.type === 'done') settle(() => resolve({ rows: message.rows, bytes: message.bytes, skipped: message.skipped }));
      else {
        const e = message.error;
        const err = e.validation
          ? new ValidationError(e.message, e.code)
          : Object.assign(new Error(e.message), { name: e.name, code: e.code });
        settle(() => reject(err));
      }
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the import's staging thread stopped (exit code ${code})`))));
  });
}

async function copyInto(client: pg.PoolClient, statement: string, text: string | Buffer): Promise<void> {
  const stream = client.query(copyFrom(statement));
  stream.end(text);
  await finished(stream);
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
  await db.deleteFrom('import_skips').where('import_id', '=', importId).execute();
}
