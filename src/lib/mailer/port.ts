/**
 * The mailer port: what the rest of Hearth knows of an email provider. Three adapters:
 * Resend (resend.ts), any SMTP relay (smtp.ts), and the local outbox (outbox.ts) used when no
 * provider is configured. Each is idempotent under a key: the same batch posted twice under one
 * key is one batch (Resend and the outbox by the key itself; SMTP by a journal of Message-IDs,
 * with a window of one message per connection, see smtp.ts).
 */
export interface EmailMessage {
  /** Defaults to MAIL_FROM. */
  from?: string;
  to: string[];
  subject: string;
  html?: string;
  text?: string;
  replyTo?: string;
  headers?: Record<string, string>;
  tags?: Array<{ name: string; value: string }>;
}

export type MailErrorKind =
  /** the provider asked us to slow down; retry after `retryAfterSeconds` */
  | 'rate_limited'
  /** the request itself is wrong (a bad address, a payload refused): retrying will not help */
  | 'invalid'
  /** a 5xx, a timeout or a dropped connection: retry with the same idempotency key */
  | 'unavailable';

export interface MailError {
  kind: MailErrorKind;
  message: string;
  status?: number;
  retryAfterSeconds?: number;
}

export type SendResult = { ok: true; id: string } | { ok: false; error: MailError };

/** What the provider said of our remaining budget (`ratelimit-remaining`, `ratelimit-reset`). */
export interface RateLimitInfo {
  remaining: number;
  resetSeconds: number;
}

export type BatchResult =
  | { ok: true; ids: Array<string | null>; rejected: Array<{ index: number; message: string }>; rateLimit?: RateLimitInfo }
  | { ok: false; error: MailError };

export const MAX_BATCH = 100;

export interface Mailer {
  readonly provider: 'resend' | 'smtp' | 'outbox';
  /**
   * What one slot of the shared rate limiter (lib/mail-rate.ts) pays for: an API request
   * (Resend: a batch of up to 100 is one request) or each message (SMTP: one transaction each).
   */
  readonly rateUnit?: 'request' | 'message';
  send(message: EmailMessage, options?: { idempotencyKey?: string }): Promise<SendResult>;
  /** Up to MAX_BATCH messages in one request; a key is required so a retry is never a second batch. */
  sendBatch(messages: EmailMessage[], options: { idempotencyKey: string }): Promise<BatchResult>;
  /** Closes pooled connections (SMTP); the process can then exit. */
  close?(): Promise<void>;
}

export class MailerUsageError extends Error {}

export function checkBatch(messages: EmailMessage[]): void {
  if (messages.length === 0) throw new MailerUsageError('a batch needs at least one email');
  if (messages.length > MAX_BATCH) throw new MailerUsageError(`a batch holds at most ${MAX_BATCH} emails, got ${messages.length}`);
}
