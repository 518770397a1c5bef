import type { Kysely } from 'kysely';
import type { Database, EngagementKind } from '../../db/types.ts';
import { errorFields, log } from './log.ts';

/**
 * Engagement events, written in small groups: each `write` joins the group being collected,
 * which is inserted with one statement at most `maxWaitMs` later (or at `maxBatch` rows), and
 * resolves once that statement has committed. A tracking request answers only then, so an
 * event that was answered is on disk (a restart cannot lose it), and a thousand requests a
 * second cost a few inserts a second instead of a thousand commits.
 */
export interface EngagementRow {
  kind: EngagementKind;
  member_id: string | null;
  send_id: string | null;
  post_id: string | null;
  link: number | null;
  machine: boolean;
  agent: string;
}

export interface EventWriter {
  write(row: EngagementRow): Promise<void>;
  /** Writes what is collected now (at shutdown). */
  flush(): Promise<void>;
}

export function createEventWriter(db: Kysely<Database>, options: { maxBatch?: number; maxWaitMs?: number } = {}): EventWriter {
  const maxBatch = options.maxBatch ?? 500;
  const maxWaitMs = options.maxWaitMs ?? 4;
  let group: Array<{ row: EngagementRow; done: () => void; failed: (err: unknown) => void }> = [];
  let timer: NodeJS.Timeout | undefined;

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = group;
    group = [];
    if (batch.length === 0) return;
    try {
      await db
        .insertInto('engagement_events')
        .values(batch.map((b) => b.row))
        .execute();
      for (const b of batch) b.done();
    } catch (err) {
      log.error('engagement events not written', { events: batch.length, ...errorFields(err) });
      for (const b of batch) b.failed(err);
    }
  }

  return {
    write(row) {
      return new Promise<void>((done, failed) => {
        group.push({ row, done, failed });
        if (group.length >= maxBatch) void flush();
        else timer ??= setTimeout(() => void flush(), maxWaitMs);
      });
    },
    flush,
  };
}

const writers = new WeakMap<object, EventWriter>();

/** One writer per database handle and process. */
export function eventWriterFor(db: Kysely<Database>): EventWriter {
  let writer = writers.get(db);
  if (!writer) {
    writer = createEventWriter(db);
    writers.set(db, writer);
  }
  return writer;
}
