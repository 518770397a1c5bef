import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueueLanes, enqueuePrepare, enqueueWinnerJob } from './jobs.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Keeping sends moving when workers die. A send's progress lives in its rows, not in a job, so
 * recovery is re-enqueueing the jobs that read those rows: the claims and idempotency keys make
 * an extra lane or a second preparation harmless.
 *
 * - At a worker's start: batches claimed by workers of this machine that are no longer running
 *   are released at once (instead of waiting out their lease), and every active send gets its
 *   jobs again (a job locked by a killed worker is not retried by the queue for hours).
 * - Every minute (the watchdog): the same for sends that made no progress for two minutes, so
 *   a worker lost on another machine is covered too.
 * - Either way, a subject test whose wait is over without a winner gets its verdict job again.
 */
export async function releaseDeadClaims(db: Kysely<Database>, host: string, isAlive: (pid: number) => boolean): Promise<number> {
  return releaseClaimsOfDeadWorkers(db, 'send_batches', host, isAlive);
}

/**
 * Releases the batches of `table` (send_batches; automation_batches for automations/engine.ts)
 * still claimed by a worker of this machine that no longer runs: a claim's owner is
 * `<host>-<pid>`, and a pid that is not this process's and is not alive is dead. Their lease ends
 * now, so the next claim takes them. Returns how many were released.
 */
export async function releaseClaimsOfDeadWorkers(
  db: Kysely<Database>,
  table: 'send_batches' | 'automation_batches',
  host: string,
  isAlive: (pid: number) => boolean,
): Promise<number> {
  const owners = await sql<{ claimed_by: string }>`
    select distinct claimed_by from ${sql.table(table)}
    where status = 'posting' and claimed_by like ${`${host.replace(/[\\%_]/g, (c) => `\\${c}`)}-%`}`.execute(db);
  const dead = owners.rows
    .map((o) => o.claimed_by)
    .filter((owner) => {
      const pid = Number(owner.slice(host.length + 1));
      return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid);
    });
  if (dead.length === 0) return 0;
  const released = await sql`
    update ${sql.table(table)} set lease_until = ${dbNow({ seconds: -1 })}
    where status = 'posting' and claimed_by = any(${dead}::text[])`.execute(db);
  return Number(released.numAffectedRows ?? 0);
}

export async function resumeSends(db: Kysely<Database>, options: { stalledForSeconds: number }): Promise<number> {
  const stalled = dbNow({ seconds: -options.stalledForSeconds });
  const sends = await db
    .selectFrom('sends')
    .select(['id', 'status', 'send_at', 'batches'])
    .where((eb) =>
      eb.or([
        eb.and([eb('status', '=', 'scheduled'), eb('send_at', '<=', stalled)]),
        eb.and([eb('status', '=', 'preparing'), eb('send_at', '<=', stalled)]),
        // Sending, but no batch posted lately and none leased right now: nobody is working on it.
        // (A subject test waiting for its winner, with nothing but held batches open, needs no lane.)
        eb.and([
          eb('status', '=', 'sending'),
          eb.not(
            eb.and([
              eb.exists(
                eb
                  .selectFrom('send_batches as h')
                  .select(sql`1`.as('one'))
                  .whereRef('h.send_id', '=', 'sends.id')
                  .where('h.status', '=', 'held'),
              ),
              eb.not(
                eb.exists(
                  eb
                    .selectFrom('send_batches as o')
                    .select(sql`1`.as('one'))
                    .whereRef('o.send_id', '=', 'sends.id')
                    .where('o.status', 'in', ['pending', 'posting']),
                ),
              ),
            ]),
          ),
          eb.not(
            eb.exists(
              eb
                .selectFrom('send_batches as b')
                .select(sql`1`.as('one'))
                .whereRef('b.send_id', '=', 'sends.id')
                .where((b) =>
                  b.or([b('b.posted_at', '>', stalled), b.and([b('b.status', '=', 'posting'), b('b.lease_until', '>', dbNow())])]),
                ),
            ),
          ),
        ]),
      ]),
    )
    .execute();
  for (const send of sends) {
    if (send.status === 'sending') await enqueueLanes(db, send.id, send.batches);
    else await enqueuePrepare(db, send.id);
  }
  // Subject tests past their wait with no winner: the verdict job again (a job locked by a killed
  // worker waits hours before the queue retries it; the same key adds a fresh one).
  const undecided = await db
    .selectFrom('sends')
    .select('id')
    .where('subjects', 'is not', null)
    .where('winner', 'is', null)
    .where('status', 'in', ['sending', 'paused', 'failed'])
    .where('test_ends_at', '<=', stalled)
    .execute();
  for (const send of undecided) await enqueueWinnerJob(db, send.id);
  return sends.length + undecided.length;
}
