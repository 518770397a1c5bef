import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue, PRIORITY } from '../../lib/queue.ts';

/**
 * The automation engine's jobs. Progress lives in rows (automation_members, automation_batches),
 * not in jobs, so enqueueing again under the same key is always safe.
 *
 * - `automation_lane` (key `automation-lane-<n>`): one of AUTOMATION_LANES loops running due
 *   steps and posting email batches (engine.ts). A lane with nothing due soon asks to run again
 *   when the next thing is due; an entry or a resume asks for it now.
 * - `automation_watchdog` (crontab, every minute): members who went cold enter, billing changes
 *   are read, and lanes are started when something is due (a worker lost on another machine).
 */
export const AUTOMATION_LANES = 4;

export const automationLaneKey = (lane: number) => `automation-lane-${lane}`;

/** Every lane, now: something may be due (an entry, a resume, an edit). */
export async function enqueueAutomationLanes(db: Kysely<Database>): Promise<void> {
  for (let lane = 0; lane < AUTOMATION_LANES; lane++)
    await enqueue(db, 'automation_lane', { lane }, { jobKey: automationLaneKey(lane), priority: PRIORITY.bulk, maxAttempts: 25 });
}

/** A lane again at `at`, unless it is already asked for sooner. */
export async function enqueueAutomationLaneAt(db: Kysely<Database>, lane: number, at: Date | undefined): Promise<void> {
  await enqueue(
    db,
    'automation_lane',
    { lane },
    {
      jobKey: automationLaneKey(lane),
      priority: PRIORITY.bulk,
      maxAttempts: 25,
      jobKeyMode: 'preserve_run_at',
      ...(at ? { runAt: at } : {}),
    },
  );
}
