import { setTimeout as sleep } from 'node:timers/promises';
import type { RateLimiter } from '../../lib/mail-rate.ts';
import type { Mailer } from '../../lib/mailer/port.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { backoffSeconds, type RetryPolicy } from './lifecycle.ts';
import { batchMessages, idempotencyKey, type FixedSend } from './payload.ts';
import type { ClaimedBatch, SendStore } from './store.ts';

/**
 * A lane: one worker's loop over a send's batches. Several lanes (on one worker or many) run
 * a send side by side; the store hands each a different batch. A lane runs for a bounded time
 * and then asks to be run again, so a worker stopping never waits long for it and lanes move
 * freely between workers.
 *
 * Per batch: claim → build the payload (pure) → wait for the shared rate limiter's slot →
 * post under `send-<id>-batch-<n>` → mark. The provider's answer decides what follows:
 * - accepted: mark each delivery posted (or rejected, for an address refused on its own);
 * - 429: everyone holds off for retry-after; the batch is due again at once, not counted;
 * - 5xx, timeout, dropped connection: the same batch later, exponential backoff, same key;
 * - the whole batch refused (a 4xx): each email is posted alone under its own key, so one bad
 *   address fails one delivery, not the batch.
 */
export interface LaneDeps {
  store: SendStore;
  mailer: Mailer;
  limiter: RateLimiter;
  payload: SiteKeys;
  retry: RetryPolicy;
  /** Who claims (the worker's id): a lease names its owner. */
  owner: string;
  onError?: (message: string, fields: Record<string, unknown>) => void;
  /** The lane's own time (its run deadline, in-place waits); the real clock unless a test drives it. */
  clock?: LaneClock;
}

export interface LaneClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const REAL_CLOCK: LaneClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

export type LaneOutcome = { next: 'again' } | { next: 'at'; at: Date } | { next: 'stop' };

/** A wait for a rate slot longer than this re-checks that the send was not paused or cancelled. */
const STATUS_RECHECK_AFTER_MS = 20;

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
    await postBatch(deps, fixed, claim.batch);
  }
  return { next: 'again' };
}

async function postBatch(deps: LaneDeps, send: FixedSend, batch: ClaimedBatch): Promise<void> {
  if (batch.deliveries.length === 0) {
    // Everyone in it left before it was posted.
    await deps.store.markPosted(batch, { ids: [], rejected: [] });
    return;
  }
  const messages = batchMessages(send, batch.deliveries, deps.payload);
  const key = idempotencyKey(send.id, batch.batch);
  // The slot is taken after the claim, so a lane with nothing to post spends none; the lease
  // (LEASE_SECONDS) outlasts any wait for a slot.
  // On SMTP each message is a transaction of its own, and pays its own slot.
  const { waitedMs } = await deps.limiter.acquire('bulk', deps.mailer.rateUnit === 'message' ? messages.length : 1);
  // The claim checked the send's status a moment ago; after a real wait, check again.
  if (waitedMs > STATUS_RECHECK_AFTER_MS && !(await deps.store.stillSending(batch, deps.owner))) return;
  const result = await deps.mailer.sendBatch(messages, { idempotencyKey: key });
  if (result.ok) {
    await deps.store.markPosted(batch, { ids: result.ids, rejected: result.rejected });
    if (result.rateLimit && result.rateLimit.remaining <= 0 && result.rateLimit.resetSeconds > 0)
      await deps.limiter.holdOff(result.rateLimit.resetSeconds);
    return;
  }
  const { error } = result;
  if (error.kind === 'rate_limited') {
    await deps.limiter.holdOff(error.retryAfterSeconds ?? 1);
    await deps.store.retryLater(batch, deps.owner, `rate limited: ${error.message}`, 0, false);
    return;
  }
  if (error.kind === 'invalid') {
    await postOneByOne(deps, messages, key, batch);
    return;
  }
  await failedAttempt(deps, batch, `${error.status ?? 'no answer'}: ${error.message}`);
}

async function failedAttempt(deps: LaneDeps, batch: ClaimedBatch, reason: string): Promise<void> {
  deps.onError?.('send batch failed', { send: batch.sendId, batch: batch.batch, attempt: batch.attempts, reason });
  if (batch.attempts >= deps.retry.maxAttempts) await deps.store.giveUp(batch, deps.owner, reason);
  else await deps.store.retryLater(batch, deps.owner, reason, backoffSeconds(batch.attempts, deps.retry), true);
}

/**
 * The provider refused the batch as a whole, so nothing of it was sent: each email goes alone,
 * under a key of its own (stable across retries), and only the refused ones are rejected.
 */
async function postOneByOne(deps: LaneDeps, messages: ReturnType<typeof batchMessages>, key: string, batch: ClaimedBatch): Promise<void> {
  const ids: Array<string | null> = [];
  const rejected: Array<{ index: number; message: string }> = [];
  for (let i = 0; i < messages.length; i++) {
    await deps.limiter.acquire();
    const one = await deps.mailer.send(messages[i]!, { idempotencyKey: `${key}-member-${batch.deliveries[i]!.memberId}` });
    if (one.ok) {
      ids.push(one.id);
    } else if (one.error.kind === 'invalid') {
      ids.push(null);
      rejected.push({ index: i, message: one.error.message });
    } else {
      if (one.error.kind === 'rate_limited') await deps.limiter.holdOff(one.error.retryAfterSeconds ?? 1);
      // The emails already accepted keep their keys: the next attempt re-posts them harmlessly.
      await failedAttempt(deps, batch, `${one.error.status ?? 'no answer'}: ${one.error.message}`);
      return;
    }
  }
  await deps.store.markPosted(batch, { ids, rejected });
}
