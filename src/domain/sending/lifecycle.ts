import type { BatchStatus, SendStatus } from '../../../db/types.ts';

/**
 * A send's lifecycle, as pure functions: which command is allowed from which status, what a
 * send's status is once its batches are settled, and how long a failed batch waits. Tested
 * without a database (test/unit/sending.test.ts).
 *
 *   draft ─schedule→ scheduled ─(time)→ preparing → sending ⇄ paused
 *     ↑                 │                             │
 *     └──────undo───────┘                             ├→ sent    (every batch posted)
 *                                                     └→ failed  (a batch gave up) ─retry→ sending
 *   cancel: from any status before sent; batches not yet posted are never posted.
 */
export const SEND_STATUSES: readonly SendStatus[] = ['draft', 'scheduled', 'preparing', 'sending', 'paused', 'sent', 'cancelled', 'failed'];

export type SendCommand = 'schedule' | 'undo' | 'cancel' | 'pause' | 'resume' | 'retry';

const COMMANDS: Record<SendCommand, { from: readonly SendStatus[]; to: SendStatus }> = {
  schedule: { from: ['draft'], to: 'scheduled' },
  undo: { from: ['scheduled'], to: 'draft' },
  cancel: { from: ['draft', 'scheduled', 'preparing', 'sending', 'paused', 'failed'], to: 'cancelled' },
  pause: { from: ['sending'], to: 'paused' },
  resume: { from: ['paused'], to: 'sending' },
  retry: { from: ['failed'], to: 'sending' },
};

export function commandTarget(command: SendCommand, from: SendStatus): SendStatus | null {
  const rule = COMMANDS[command];
  return rule.from.includes(from) ? rule.to : null;
}

export function allowedCommands(status: SendStatus): SendCommand[] {
  return (Object.keys(COMMANDS) as SendCommand[]).filter((c) => COMMANDS[c].from.includes(status));
}

export type BatchCounts = Partial<Record<BatchStatus, number>>;

/**
 * A sending send's status from its batches: still sending while any batch is open; once all
 * are settled, sent, or failed when a batch gave up (its members can be retried). A subject
 * test's rest, held until the winner is known, keeps the send sending (waiting, no lane busy).
 */
export function statusFromBatches(counts: BatchCounts): 'sending' | 'sent' | 'failed' {
  if ((counts.pending ?? 0) + (counts.posting ?? 0) > 0) return 'sending';
  if ((counts.failed ?? 0) > 0) return 'failed';
  return (counts.held ?? 0) > 0 ? 'sending' : 'sent';
}

export interface RetryPolicy {
  /** Attempts before a batch gives up (429s are not counted). */
  maxAttempts: number;
  baseSeconds: number;
  maxSeconds: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseSeconds: 5, maxSeconds: 300 };

/** Exponential backoff after the n-th failed attempt (1-based), with ±20% jitter. */
export function backoffSeconds(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const raw = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.max(0, attempt - 1));
  return raw * (0.8 + 0.4 * random());
}
