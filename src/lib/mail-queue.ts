import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import type { EmailMessage } from './mailer/port.ts';
import { enqueue, PRIORITY } from './queue.ts';

/**
 * Transactional mail (confirmations, magic links, receipts) goes through the job queue: the
 * request that causes it only writes a job row, in its own transaction. The idempotency key
 * is fixed here, at enqueue time, so every retry of the job is the same email to the provider.
 */
export interface SendEmailPayload {
  message: EmailMessage;
  idempotencyKey: string;
}

/**
 * An email to a member: its sender and Reply-To are required, so no path can forget them
 * (domain/newsletters/sender.ts's senderFor gives both).
 */
export type MemberEmail = EmailMessage & { from: string; replyTo: string };

export async function queueEmail(db: Kysely<Database>, message: MemberEmail, options: { idempotencyKey?: string } = {}): Promise<void> {
  const payload: SendEmailPayload = { message, idempotencyKey: options.idempotencyKey ?? `mail-${randomUUID()}` };
  await enqueue(db, 'send_email', payload, { priority: PRIORITY.transactional, maxAttempts: 12 });
}
