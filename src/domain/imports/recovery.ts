import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';
import { log } from '../../lib/log.ts';
import { dbNow } from '../../lib/sql.ts';
import { RUN_LOCK } from './run.ts';

/**
 * Keeping imports moving when workers die (like sending's recovery.ts). An import's progress
 * lives in its rows (the file in import_chunks, the staged rows, the status), not in its job; and
 * a job whose worker was killed stays locked in the queue for hours. So the watchdog looks for
 * imports that say 'queued' or 'running' while no session holds their run lock (a killed worker's
 * connection closes and Postgres releases the lock at once) and enqueues their job again. The
 * run then resumes: rows staged completely are merged as they are, a partial staging is redone
 * from the file, and the merge is one transaction, so no row is counted twice.
 *
 * An import restarted MAX_RESTARTS times is failed with a message, so none stays "running".
 */
export const MAX_RESTARTS = 5;

export async function resumeImports(db: Kysely<Database>, options: { stalledForSeconds: number }): Promise<number> {
  const stalled = dbNow({ seconds: -options.stalledForSeconds });
  const orphans = await db
    .selectFrom('imports')
    .select(['id', 'status', 'restarts'])
    .where('status', 'in', ['queued', 'running'])
    .where(sql<boolean>`coalesce(heartbeat_at, started_at, created_at) <= ${stalled}`)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom(sql`pg_locks`.as('l'))
            .select(sql`1`.as('one'))
            .where(
              sql<boolean>`l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database()) and l.classid = ${RUN_LOCK}::oid and l.objid::bigint = (imports.id % 2147483647) and l.objsubid = 2`,
            ),
        ),
      ),
    )
    .execute();
  for (const orphan of orphans) {
    if (orphan.status === 'running' && orphan.restarts >= MAX_RESTARTS) {
      await db
        .updateTable('imports')
        .set({
          status: 'failed',
          error: `The import was interrupted ${MAX_RESTARTS} times and has been stopped. Nothing was imported: upload the file again.`,
          finished_at: new Date(),
        })
        .where('id', '=', orphan.id)
        .where('status', '=', 'running')
        .execute();
      await db.deleteFrom('import_rows').where('import_id', '=', orphan.id).execute();
      await db.deleteFrom('import_skips').where('import_id', '=', orphan.id).execute();
      continue;
    }
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('imports')
        .set({
          restarts: sql<number>`restarts + ${orphan.status === 'running' ? 1 : 0}` as unknown as number,
          heartbeat_at: dbNow(),
        })
        .where('id', '=', orphan.id)
        .execute();
      // Under the same key: the dead worker's job is locked, so this adds a fresh one.
      await enqueue(trx, 'run_import', { importId: orphan.id }, { jobKey: `run_import:${orphan.id}`, maxAttempts: 5 });
    });
    log.warn('import resumed after its worker stopped', { importId: orphan.id, was: orphan.status });
  }
  return orphans.length;
}
