/**
 * The worker thread that stages a large import (run.ts starts it): stage.ts with two connections
 * of its own, one reading the stored chunks and one running the COPYs, so the read of the next
 * chunk overlaps the write of the last batch. Its heap has a small fixed limit (run.ts), so the
 * garbage of parsing a file of any size is collected there instead of growing the server's heap.
 *
 * Messages to the parent: `{ type: 'progress', bytes, rows }` after each batch written, then
 * `{ type: 'done', rows, bytes }` or `{ type: 'error', error }` (name, message, code, and whether
 * it is a ValidationError staff can read).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { DomainError } from '../../lib/errors.ts';
import { readStoredChunk, stageFile, type StageInput } from './stage.ts';
import { LOAD_FINGERPRINTS_SQL, readFingerprints } from './fingerprint.ts';

export interface StageWorkerData {
  connection: pg.ClientConfig;
  input: StageInput;
}

export type StageWorkerMessage =
  | { type: 'progress'; bytes: number; rows: number }
  | { type: 'done'; bytes: number; rows: number; skipped: number }
  | { type: 'error'; error: { name: string; message: string; code?: string; validation: boolean } };

const { connection, input } = workerData as StageWorkerData;
const port = parentPort!;
const post = (message: StageWorkerMessage) => port.postMessage(message);

const reader = new pg.Client(connection);
const writer = new pg.Client(connection);
// A dropped connection rejects the query in flight; the event itself must not end the thread.
reader.on('error', () => undefined);
writer.on('error', () => undefined);

try {
  await Promise.all([reader.connect(), writer.connect()]);
  // As in the run's own session: a crash loses at most the last batches, and the run stages again.
  await writer.query('set synchronous_commit = off');
  const result = await stageFile(input, {
    readChunk: (seq) => readStoredChunk((text, values) => reader.query<{ piece: Buffer }>(text, values), input.importId, seq),
    async copy(statement, text) {
      const stream = writer.query(copyFrom(statement));
      stream.end(text);
      await finished(stream);
    },
    async progress(done) {
      post({ type: 'progress', ...done });
    },
    // On the writer's connection: it has nothing to write until the first batch is parsed.
    async fingerprints() {
      // Room for the members the planner expects, up to 2 million (the arrays grow if there are more).
      const estimate = (
        await writer.query<{ n: number }>(
          `select least(greatest(reltuples, 0), 2000000)::int as n from pg_class where oid = 'members'::regclass`,
        )
      ).rows[0]!.n;
      return readFingerprints(writer.query(copyTo(LOAD_FINGERPRINTS_SQL)), estimate + 1024);
    },
  });
  post({ type: 'done', ...result });
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (err as { code?: unknown } | null)?.code;
  post({
    type: 'error',
    error: { name: e.name, message: e.message, code: typeof code === 'string' ? code : undefined, validation: err instanceof DomainError },
  });
} finally {
  await Promise.all([reader.end().catch(() => undefined), writer.end().catch(() => undefined)]);
}
