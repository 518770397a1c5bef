import { setTimeout as sleep } from 'node:timers/promises';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { batchMessages, idempotencyKey, type FixedSend } from './payload.ts';
import { postBatch, type BatchSink, type PosterDeps } from './poster.ts';
import type { ClaimedBatch, SendStore } from './store.ts';

/**
 * A lane: one worker's loop over a send's batches. Several lanes (on one worker or many) run
 * a send side by side; the store hands each a different batch. A lane runs for a bounded time
 * and then asks to be run again, so a worker stopping never waits long for it and lanes move
 * freely between workers.
 *
 * Per batch: claim → build the payload (pure) → post it through the poster shared with the
 * automation engine (poster.ts: the rate limiter's slot, the post under `send-<id>-batch-<n>`,
 * what each answer of the provider leads to) → mark, in the store.
 */
export interface LaneDeps extends PosterDeps {
  store: SendStore;
  payload: SiteKeys;
  /** The lane's own time (its run deadline, in-place waits); the real clock unless a test drives it. */
  clock?: LaneClock;
}

export interface LaneClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_CLOCK: LaneClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

export type LaneOutcome = { next: 'again' } | { next: 'at'; at: Date } | { next: 'stop' };

/** The longest a lane sleeps in place for a batch to come due; beyond it, it is rescheduled. */
const MAX_IN_PLACE_WAIT_MS = 5_000;

export async function runLane(deps: LaneDeps, sendId: string, options: { runForMs: number }): Promise<LaneOutcome> {
  const clock = deps.clock ?? REAL_CLOCK;
  const deadline = clock.now() + options.runForMs;
  let fixed: FixedSend | undefined;
  while (clock.now() < deadline) {
    const claim = await deps.store.claim(sendId, deps.owner);
    if (claim.kind === 'stopped') return { next: 'stop' };
    if (claim.kind === 'done') {
      await deps.store.settle(sendId);
      return { next: 'stop' };
    }
    if (claim.kind === 'wait') {
      const waitMs = claim.until.getTime() - clock.now();
      if (waitMs > MAX_IN_PLACE_WAIT_MS || clock.now() + waitMs > deadline) return { next: 'at', at: claim.until };
      await clock.sleep(Math.max(50, waitMs));
      continue;
    }
    fixed ??= await deps.store.fixedSend(sendId);
    await postSendBatch(deps, fixed, claim.batch);
  }
  return { next: 'again' };
}

/** The send's side of the shared poster (poster.ts): its store, and its keys. */
function postSendBatch(deps: LaneDeps, send: FixedSend, batch: ClaimedBatch): Promise<void> {
  const store = deps.store;
  const key = idempotencyKey(send.id, batch.batch);
  const sink: BatchSink<ClaimedBatch> = {
    markPosted: (b, outcome) => store.markPosted(b, outcome),
    stillRunning: (b, owner) => store.stillSending(b, owner),
    retryLater: (b, owner, error, delay, counts) => store.retryLater(b, owner, error, delay, counts),
    giveUp: (b, owner, error) => store.giveUp(b, owner, error),
  };
  return postBatch(
    deps,
    sink,
    batch,
    {
      attempts: batch.attempts,
      key,
      memberKey: (i) => `${key}-member-${batch.deliveries[i]!.memberId}`,
      soloAsEmail: false,
      log: { message: 'send batch failed', fields: { send: batch.sendId, batch: batch.batch } },
    },
    batch.deliveries.length === 0 ? [] : batchMessages(send, batch.deliveries, deps.payload),
  );
}
