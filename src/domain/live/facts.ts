/**
 * The live feed's fact types and the one-line headline the Live panel shows for each. Pure and
 * import-free: the panel's script (in the browser) uses it too, so a fact reads the same on the
 * first paint and when it arrives on the stream.
 */
export const LIVE_TYPES = [
  'member.created',
  'member.confirmed',
  'subscription.started',
  'subscription.ended',
  'question.created',
  'comment.held',
  'comment.reported',
  'send.progress',
  'send.sent',
  'send.failed',
  'import.finished',
  'payment.failed',
  'signup.wave',
] as const;

export type LiveType = (typeof LIVE_TYPES)[number];

/**
 * `send.progress` milestones: `started` (the first batch posted), `50` (half the recipients),
 * `paused` (the provider stopped it: `reason` is `rate_limited` or `provider_error`, `error` what it
 * said), `resumed` (its first accepted batch after a pause, `paused_seconds`), `done` (`status`
 * sent or failed).
 */
export type SendMilestone = 'started' | '50' | 'paused' | 'resumed' | 'done';

const REASONS: Record<string, string> = { rate_limited: 'rate limited', provider_error: 'provider error' };

/** "Send 12 paused by the provider (rate limited)", "A member asked a question", … */
export function factHeadline(type: string, data: Record<string, unknown>): string {
  const id = String(data.id ?? '');
  switch (type) {
    case 'send.progress':
      switch (data.milestone) {
        case 'started':
          return `Send ${id} started`;
        case '50':
          return `Send ${id} half posted`;
        case 'paused':
          return `Send ${id} paused by the provider (${REASONS[String(data.reason)] ?? 'provider'})`;
        case 'resumed':
          return `Send ${id} resumed`;
        case 'done':
          return data.status === 'failed' ? `Send ${id} stopped, failed` : `Send ${id} done`;
        default:
          return `Send ${id}`;
      }
    case 'send.sent':
      return `Send ${id} sent`;
    case 'send.failed':
      return `Send ${id} failed`;
    case 'member.created':
      return 'New member';
    case 'member.confirmed':
      return 'Member confirmed';
    case 'subscription.started':
      return 'Upgrade';
    case 'subscription.ended':
      return 'Cancellation';
    case 'question.created':
      return 'A member asked a question';
    case 'comment.held':
      return 'Comment held';
    case 'comment.reported':
      return 'Comment reported';
    case 'import.finished':
      return 'Import finished';
    case 'payment.failed':
      return 'Payment failed';
    case 'signup.wave':
      return 'Sign-up wave';
    default:
      return type;
  }
}
