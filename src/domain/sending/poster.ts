import type { RateLimiter } from '../../lib/mail-rate.ts';
import type { EmailMessage, Mailer } from '../../lib/mailer/port.ts';
import { backoffSeconds, type RetryPolicy } from './lifecycle.ts';

/**
 * Posting one claimed batch: the one piece the send engine (engine.ts) and the automation engine
 * (automations/engine.ts) share. Each has its own batch source (sends' batches, automation steps'
 * batches: how they are claimed, keyed and marked); the poster sees only the batch's messages,
 * its keys and a sink for the answer.
 *
 * wait for the shared rate limiter's slot → check the batch may still go → post under its key →
 * mark. The provider's answer decides what follows:
 * - accepted: each delivery posted (or rejected, for an address refused on its own);
 * - 429: everyone holds off for retry-after; the batch is due again at once, not counted;
 * - 5xx, timeout, dropped connection: the same batch later, exponential backoff, same key;
 * - the whole batch refused (a 4xx): each email is posted alone under its member key, so one
 *   bad address fails one delivery, not the batch.
 */
export interface PosterDeps {
  mailer: Mailer;
  limiter: RateLimiter;
  retry: RetryPolicy;
  /** Who claimed the batch (the worker's id): the sink's writes are guarded by it. */
  owner: string;
  onError?: (message: string, fields: Record<string, unknown>) => void;
}

export interface PostedOutcome {
  /** Provider id per delivery, in batch order; null for a rejected one. */
  ids: Array<string | null>;
  rejected: Array<{ index: number; message: string }>;
}

/** A claimed batch as the poster needs it. */
export interface PostableBatch {
  /** Attempts including this one. */
  attempts: number;
  /** The key of the batch as one request. */
  key: string;
  /** The key of delivery `index`'s email posted alone (the batch refused as a whole, or a batch of one). */
  memberKey(index: number): string;
  /** A batch of one goes as a single email under its member key rather than as a batch. */
  soloAsEmail: boolean;
  /** For the error log: what failed ("send batch failed") and which. */
  log: { message: string; fields: Record<string, unknown> };
}

/** Where the answer goes: the batch source's own table. Every write is guarded by the claim's owner. */
export interface BatchSink<B> {
  markPosted(batch: B, outcome: PostedOutcome): Promise<void>;
  /** Just before posting, after a real wait for a slot: false hands the batch back unposted (paused, cancelled, held). */
  stillRunning(batch: B, owner: string): Promise<boolean>;
  /** Back to pending after `delaySeconds`; a 429 does not count as an attempt. */
  retryLater(batch: B, owner: string, error: string, delaySeconds: number, countsAsAttempt: boolean): Promise<void>;
  /** Attempts exhausted. */
  giveUp(batch: B, owner: string, error: string): Promise<void>;
}

/** A wait for a rate slot longer than this re-checks that the batch may still go. */
const STATUS_RECHECK_AFTER_MS = 20;

export async function postBatch<B>(deps: PosterDeps, sink: BatchSink<B>, batch: B, postable: PostableBatch, messages: EmailMessage[]) {
  if (messages.length === 0) {
    // Everyone in it left before it was posted.
    await sink.markPosted(batch, { ids: [], rejected: [] });
    return;
  }
  // The slot is taken after the claim, so a lane with nothing to post spends none; the lease
  // outlasts any wait for a slot. On SMTP each message is a transaction of its own, and pays its own slot.
  const { waitedMs } = await deps.limiter.acquire('bulk', deps.mailer.rateUnit === 'message' ? messages.length : 1);
  // The claim checked the status a moment ago; after a real wait, check again.
  if (waitedMs > STATUS_RECHECK_AFTER_MS && !(await sink.stillRunning(batch, deps.owner))) return;
  if (messages.length === 1 && postable.soloAsEmail) {
    await postAlone(deps, sink, batch, postable, messages, false);
    return;
  }
  const result = await deps.mailer.sendBatch(messages, { idempotencyKey: postable.key });
  if (result.ok) {
    await sink.markPosted(batch, { ids: result.ids, rejected: result.rejected });
    if (result.rateLimit && result.rateLimit.remaining <= 0 && result.rateLimit.resetSeconds > 0)
      await deps.limiter.holdOff(result.rateLimit.resetSeconds);
    return;
  }
  const { error } = result;
  if (error.kind === 'rate_limited') {
    await deps.limiter.holdOff(error.retryAfterSeconds ?? 1);
    await sink.retryLater(batch, deps.owner, `rate limited: ${error.message}`, 0, false);
    return;
  }
  if (error.kind === 'invalid') {
    await postAlone(deps, sink, batch, postable, messages, true);
    return;
  }
  await failedAttempt(deps, sink, batch, postable, `${error.status ?? 'no answer'}: ${error.message}`);
}

async function failedAttempt<B>(deps: PosterDeps, sink: BatchSink<B>, batch: B, postable: PostableBatch, reason: string) {
  deps.onError?.(postable.log.message, { ...postable.log.fields, attempt: postable.attempts, reason });
  if (postable.attempts >= deps.retry.maxAttempts) await sink.giveUp(batch, deps.owner, reason);
  else await sink.retryLater(batch, deps.owner, reason, backoffSeconds(postable.attempts, deps.retry), true);
}

/**
 * Each email alone, under a key of its own (stable across retries): the provider refused the batch
 * as a whole (so nothing of it was sent), or it is a batch of one. Only the refused ones are rejected.
 */
async function postAlone<B>(
  deps: PosterDeps,
  sink: BatchSink<B>,
  batch: B,
  postable: PostableBatch,
  messages: EmailMessage[],
  slotPerEmail: boolean,
) {
  const ids: Array<string | null> = [];
  const rejected: Array<{ index: number; message: string }> = [];
  for (let i = 0; i < messages.length; i++) {
    if (slotPerEmail) await deps.limiter.acquire();
    const one = await deps.mailer.send(messages[i]!, { idempotencyKey: postable.memberKey(i) });
    if (one.ok) {
      ids.push(one.id);
    } else if (one.error.kind === 'invalid') {
      ids.push(null);
      rejected.push({ index: i, message: one.error.message });
    } else {
      // The emails already accepted keep their keys: the next attempt re-posts them harmlessly.
      if (one.error.kind === 'rate_limited') {
        await deps.limiter.holdOff(one.error.retryAfterSeconds ?? 1);
        await sink.retryLater(batch, deps.owner, `rate limited: ${one.error.message}`, 0, false);
      } else await failedAttempt(deps, sink, batch, postable, `${one.error.status ?? 'no answer'}: ${one.error.message}`);
      return;
    }
  }
  await sink.markPosted(batch, { ids, rejected });
}
