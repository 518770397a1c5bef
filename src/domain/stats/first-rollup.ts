import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';

/**
 * Stats read rollups that the worker refreshes every ten minutes; on a site that has never been
 * rolled up (a first start on an existing database, a restored archive, members added by SQL)
 * Stats would show zeros for up to ten minutes while the dashboard counts members live. So the
 * worker queues the first run as soon as it starts. One job however many workers start at once
 * (the job key), and nothing once a run has recorded its `engagement` state.
 */
export async function queueFirstRollup(db: Kysely<Database>): Promise<boolean> {
  const done = await db.selectFrom('stats_state').select('name').where('name', '=', 'engagement').executeTakeFirst();
  if (done) return false;
  await queueRollupNow(db, 'first');
  return true;
}

/**
 * A stats rollup now rather than at its next ten-minute turn (after an import, on a first start).
 * One job per `reason` however often it is asked before it runs (the job key). The task ignores
 * its payload; the queue types `stats_rollup` as a cron task, so it carries a cron stamp.
 */
export async function queueRollupNow(db: Kysely<Database>, reason: 'first' | 'after-import'): Promise<void> {
  await enqueue(
    db,
    'stats_rollup',
    { _cron: { ts: new Date().toISOString() } },
    { jobKey: `stats_rollup:${reason}`, jobKeyMode: 'preserve_run_at' },
  );
}
