import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { BatchResult, EmailMessage, Mailer, SendResult } from './port.ts';
import { checkBatch } from './port.ts';

/**
 * The local outbox: with no RESEND_API_KEY, email is written to the `outbox` table and staff
 * read it at /admin/outbox. A batch re-posted under the same idempotency key lands on the
 * rows it made the first time (unique (idempotency_key, batch_index)), as Resend would answer.
 */
export function createOutboxMailer(db: Kysely<Database>, options: { from: string }): Mailer {
  async function insert(messages: EmailMessage[], idempotencyKey: string | null): Promise<Array<string>> {
    const rows = messages.map((m, i) => ({
      from_address: m.from ?? options.from,
      to_addresses: m.to,
      subject: m.subject,
      html: m.html ?? null,
      text: m.text ?? null,
      headers: JSON.stringify({ ...(m.replyTo ? { 'Reply-To': m.replyTo } : {}), ...m.headers }),
      tags: JSON.stringify(m.tags ?? []),
      idempotency_key: idempotencyKey,
      batch_index: idempotencyKey === null ? null : i,
    }));
    if (idempotencyKey === null) {
      const inserted = await db.insertInto('outbox').values(rows).returning('id').execute();
      return inserted.map((r) => `outbox_${r.id}`);
    }
    await db
      .insertInto('outbox')
      .values(rows)
      .onConflict((oc) => oc.columns(['idempotency_key', 'batch_index']).doNothing())
      .execute();
    const existing = await db
      .selectFrom('outbox')
      .select(['id', 'batch_index'])
      .where('idempotency_key', '=', idempotencyKey)
      .orderBy('batch_index')
      .execute();
    return existing.map((r) => `outbox_${r.id}`);
  }

  return {
    provider: 'outbox',
    rateUnit: 'request',
    async send(message, opts = {}): Promise<SendResult> {
      const [id] = await insert([message], opts.idempotencyKey ?? null);
      return { ok: true, id: id! };
    },
    async sendBatch(messages, opts): Promise<BatchResult> {
      checkBatch(messages);
      const ids = await insert(messages, opts.idempotencyKey);
      return { ok: true, ids, rejected: [] };
    },
  };
}

export async function listOutbox(db: Kysely<Database>, options: { limit: number; before?: string | undefined }) {
  return db
    .selectFrom('outbox')
    .select(['id', 'created_at', 'to_addresses', 'subject', 'from_address'])
    .$if(options.before !== undefined, (q) => q.where('id', '<', options.before!))
    .orderBy('id', 'desc')
    .limit(options.limit)
    .execute();
}

export async function findOutboxEmail(db: Kysely<Database>, id: string) {
  return db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
}
