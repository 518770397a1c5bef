import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { normaliseEmail } from '../members/email.ts';
import { recordEvent } from '../members/events.ts';
import { suppress } from '../members/suppression.ts';
import { isId } from '../../lib/ids.ts';

/**
 * What Resend tells us after posting, as a table from event type to handler. Every handler is
 * idempotent and indifferent to order: a delivery's facts are timestamps set once
 * (`coalesce`), and a send's counter moves only when its fact is set for the first time, so
 * a replayed or late event changes nothing. A hard bounce or a complaint suppresses the
 * address everywhere (sends, transactional mail, imports) and marks the member.
 *
 * Emails of a send carry the tags hearth_send and hearth_member (payload.ts): that is how an
 * event finds its delivery without an index on the provider's id.
 */
export interface ResendEvent {
  type: string;
  created_at?: string;
  data?: {
    email_id?: string;
    to?: string[] | string;
    tags?: Record<string, string> | Array<{ name: string; value: string }>;
    bounce?: { type?: string; subType?: string; message?: string };
    failed?: { reason?: string };
  };
}

export type WebhookOutcome = 'recorded' | 'duplicate' | 'ignored';

type Fact = 'delivered_at' | 'delayed_at' | 'bounced_at' | 'complained_at' | 'failed_at';
type Counter = 'delivered' | 'delayed' | 'bounced' | 'complained' | 'provider_failed';

function tag(event: ResendEvent, name: string): string | undefined {
  const tags = event.data?.tags;
  const value = Array.isArray(tags) ? tags.find((t) => t.name === name)?.value : tags?.[name];
  return typeof value === 'string' && isId(value) ? value : undefined;
}

function occurredAt(event: ResendEvent): Date {
  const at = new Date(event.created_at ?? '');
  return Number.isNaN(at.getTime()) ? new Date() : at;
}

function recipients(event: ResendEvent): string[] {
  const to = event.data?.to;
  const list = Array.isArray(to) ? to : typeof to === 'string' ? [to] : [];
  return list.filter((a): a is string => typeof a === 'string' && a.includes('@') && a.length <= 254).map(normaliseEmail);
}

/** Sets a delivery's fact once; true when this event was the first to set it. */
async function setFact(db: Kysely<Database>, event: ResendEvent, fact: Fact, counter: Counter): Promise<boolean | undefined> {
  return setDeliveryFact(db, tag(event, 'hearth_send'), tag(event, 'hearth_member'), occurredAt(event), fact, counter);
}

async function setDeliveryFact(
  db: Kysely<Database>,
  sendId: string | undefined,
  memberId: string | undefined,
  at: Date,
  fact: Fact,
  counter: Counter,
): Promise<boolean | undefined> {
  if (!sendId || !memberId) return undefined;
  const updated = await sql<{ one: number }>`
    update deliveries set ${sql.ref(fact)} = ${at}
     where send_id = ${sendId} and member_id = ${memberId} and ${sql.ref(fact)} is null
    returning 1 as one
  `.execute(db);
  if (updated.rows.length === 0) return false;
  await db
    .updateTable('sends')
    .set((eb) => ({ [counter]: eb(counter, '+', 1) }))
    .where('id', '=', sendId)
    .execute();
  return true;
}

async function markMembers(
  db: Kysely<Database>,
  addresses: string[],
  status: 'bounced' | 'complained',
  detail: Record<string, unknown>,
): Promise<void> {
  for (const address of addresses) {
    await suppress(db, address, status);
    const changed = await db
      .updateTable('members')
      .set({ status, updated_at: new Date() })
      .where('email', '=', address)
      .where('status', '<>', status)
      // A complaint outranks a bounce; a bounce never hides a complaint.
      .$if(status === 'bounced', (q) => q.where('status', '<>', 'complained'))
      .returning('id')
      .execute();
    for (const m of changed) await recordEvent(db, m.id, status, detail);
  }
}

const outcome = (first: boolean | undefined): WebhookOutcome => (first === false ? 'duplicate' : 'recorded');

const HANDLERS: Record<string, (db: Kysely<Database>, event: ResendEvent) => Promise<WebhookOutcome>> = {
  'email.delivered': async (db, e) => outcome(await setFact(db, e, 'delivered_at', 'delivered')),
  'email.delivery_delayed': async (db, e) => outcome(await setFact(db, e, 'delayed_at', 'delayed')),
  'email.failed': async (db, e) => outcome(await setFact(db, e, 'failed_at', 'provider_failed')),
  'email.bounced': async (db, e) => {
    // Only a permanent bounce is final; a transient one (mailbox full) is a delay.
    const permanent = (e.data?.bounce?.type ?? 'Permanent').toLowerCase() !== 'transient';
    if (!permanent) return outcome(await setFact(db, e, 'delayed_at', 'delayed'));
    const first = await setFact(db, e, 'bounced_at', 'bounced');
    await markMembers(db, recipients(e), 'bounced', { sub_type: e.data?.bounce?.subType ?? null, send: tag(e, 'hearth_send') ?? null });
    return outcome(first);
  },
  'email.complained': async (db, e) => {
    const first = await setFact(db, e, 'complained_at', 'complained');
    await markMembers(db, recipients(e), 'complained', { send: tag(e, 'hearth_send') ?? null });
    return outcome(first);
  },
};

/** The Resend webhook events Hearth records: the ones to enable on the endpoint (the install checklist lists them). */
export const HANDLED_RESEND_EVENTS = Object.keys(HANDLERS);

/**
 * What an SMTP relay told us (SES, Postmark, Mailgun; mapped in provider-events.ts), in the same
 * words as Resend's events, recorded by the same rules: a fact set once per delivery, a hard
 * bounce or a complaint suppresses every recipient named, a transient bounce is a delay.
 */
export interface MailFact {
  kind: 'delivered' | 'delayed' | 'bounced' | 'complained';
  /** From the hearth_send / hearth_member tags the relay echoed; absent for transactional mail. */
  sendId: string | undefined;
  memberId: string | undefined;
  recipients: string[];
  at: Date;
  /** The relay's classification (e.g. Permanent/General, HardBounce), kept on the member's event. */
  subType: string | null;
}

const FACT_COLUMNS: Record<MailFact['kind'], [Fact, Counter]> = {
  delivered: ['delivered_at', 'delivered'],
  delayed: ['delayed_at', 'delayed'],
  bounced: ['bounced_at', 'bounced'],
  complained: ['complained_at', 'complained'],
};

/** Only an id is a tag's value (the relay echoes what it was given; anything else is ignored). */
export const tagValue = (value: unknown): string | undefined => (typeof value === 'string' && isId(value) ? value : undefined);

export function addressesOf(values: unknown[]): string[] {
  return values.filter((a): a is string => typeof a === 'string' && a.includes('@') && a.length <= 254).map(normaliseEmail);
}

export async function recordMailFacts(db: Kysely<Database>, facts: MailFact[]): Promise<WebhookOutcome> {
  if (facts.length === 0) return 'ignored';
  return db.transaction().execute(async (trx) => {
    let recorded = false;
    for (const fact of facts) {
      const [column, counter] = FACT_COLUMNS[fact.kind];
      const first = await setDeliveryFact(trx, fact.sendId, fact.memberId, fact.at, column, counter);
      if (fact.kind === 'bounced' || fact.kind === 'complained') {
        await markMembers(trx, fact.recipients, fact.kind, { sub_type: fact.subType, send: fact.sendId ?? null });
      }
      if (first !== false) recorded = true;
    }
    return recorded ? 'recorded' : 'duplicate';
  });
}

export async function handleResendEvent(db: Kysely<Database>, event: ResendEvent): Promise<WebhookOutcome> {
  const handler = HANDLERS[event.type];
  if (!handler) return 'ignored';
  return db.transaction().execute((trx) => handler(trx, event));
}
