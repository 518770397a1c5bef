import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue, PRIORITY } from '../../lib/queue.ts';

/**
 * Sending's jobs: their keys and the one way each is enqueued. A send's progress lives in its
 * rows, not in its jobs, so enqueueing again under the same key is always safe: a pending job
 * is replaced, a running one gets a successor that finds nothing left or carries on.
 *
 * - `prepare_send` (key `send-<id>-prepare`): snapshots the segment at `send_at`.
 * - `send_lane` (key `send-<id>-lane-<n>`): one of up to LANES loops posting the send's batches;
 *   a lane that runs out of time enqueues itself again under its own key.
 * - `pick_subject_winner` (key `send-<id>-winner`): a subject test's verdict, at test_ends_at.
 */

/** How many lanes post one send side by side (the bulk worker runs this many jobs at once). */
export const LANES = 8;

export const prepareJobKey = (sendId: string) => `send-${sendId}-prepare`;
export const laneJobKey = (sendId: string, lane: number) => `send-${sendId}-lane-${lane}`;

/** Preparation at `runAt` (now when omitted). */
export async function enqueuePrepare(db: Kysely<Database>, sendId: string, runAt?: Date): Promise<void> {
  await enqueue(
    db,
    'prepare_send',
    { sendId },
    { jobKey: prepareJobKey(sendId), priority: PRIORITY.bulk, maxAttempts: 10, ...(runAt ? { runAt } : {}) },
  );
}

/** A scheduled preparation withdrawn (undo, cancel); nothing happens when none is pending. */
export async function removePrepare(db: Kysely<Database>, sendId: string): Promise<void> {
  await sql`select graphile_worker.remove_job(${prepareJobKey(sendId)})`.execute(db);
}

/** One lane, now or at `runAt`. */
export async function enqueueLane(db: Kysely<Database>, sendId: string, lane: number, runAt?: Date): Promise<void> {
  await enqueue(
    db,
    'send_lane',
    { sendId, lane },
    { jobKey: laneJobKey(sendId, lane), priority: PRIORITY.bulk, maxAttempts: 25, ...(runAt ? { runAt } : {}) },
  );
}

/** Starts (or restarts) a send's lanes: one job per lane under a stable key, no more lanes than batches. */
export async function enqueueLanes(db: Kysely<Database>, sendId: string, batches: number, runAt?: Date): Promise<void> {
  const lanes = Math.max(1, Math.min(LANES, batches));
  for (let lane = 0; lane < lanes; lane++) await enqueueLane(db, sendId, lane, runAt);
}

export const winnerJobKey = (sendId: string) => `send-${sendId}-winner`;

/** A subject test's verdict at the end of its wait (`pick_subject_winner`, key `send-<id>-winner`). */
export async function enqueueWinnerJob(db: Kysely<Database>, sendId: string, runAt?: Date): Promise<void> {
  await enqueue(
    db,
    'pick_subject_winner',
    { sendId },
    { jobKey: winnerJobKey(sendId), priority: PRIORITY.bulk, maxAttempts: 25, ...(runAt ? { runAt } : {}) },
  );
}

/** The verdict withdrawn (a staff pick, cancel); nothing happens when none is pending. */
export async function removeWinnerJob(db: Kysely<Database>, sendId: string): Promise<void> {
  await sql`select graphile_worker.remove_job(${winnerJobKey(sendId)})`.execute(db);
}
