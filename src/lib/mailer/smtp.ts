import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { createTransport } from 'nodemailer';
import type { Database } from '../../../db/types.ts';
import type { BatchResult, EmailMessage, MailError, Mailer, SendResult } from './port.ts';
import { checkBatch } from './port.ts';

/**
 * Any SMTP relay (Amazon SES SMTP, Postmark, Mailgun, Postal, an own MTA) through one pooled
 * nodemailer transport: at most `maxConnections` connections, each message its own SMTP
 * transaction, at most that many in flight at once.
 *
 * SMTP has no idempotency key, so this adapter keeps its own: every message gets a Message-ID
 * derived from the batch's key, its place in the batch and its recipient (the same on every
 * attempt), and the moment the relay answers it — 250 accepted, or a 5xx refusal — a row in
 * `smtp_journal` is committed. Only after every message of the batch has its row does
 * `sendBatch` answer, so the engine marks the batch posted only then. A retried batch (a 4xx,
 * a dropped connection, a worker killed mid-batch) skips every message found in the journal.
 *
 * What "exactly once" means here: a crash after the relay said 250 for a message and before
 * its row committed sends that message again on the retry. That window is one database insert
 * long, and at most `maxConnections` messages can be in it at once (README, "Any mail provider").
 */
export interface SmtpMailerOptions {
  url: string;
  from: string;
  /** Connections the pool keeps open, and so messages in flight at once (default 5). */
  maxConnections?: number;
  /** Connecting and the relay's greeting (default 10 s each), and any one answer (default 30 s). */
  connectTimeoutMs?: number;
  socketTimeoutMs?: number;
}

export interface SmtpEndpoint {
  host: string;
  port: number;
  /** smtps:// is TLS from the first byte; smtp:// upgrades with STARTTLS when the relay offers it. */
  secure: boolean;
  auth: { user: string; pass: string } | undefined;
}

export class SmtpUrlError extends Error {}

/** `smtp://user:pass@host:587` or `smtps://user:pass@host:465`; user and password URL-encoded. */
export function parseSmtpUrl(value: string): SmtpEndpoint {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SmtpUrlError('must be a URL like smtp://user:pass@smtp.example.com:587');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:')
    throw new SmtpUrlError(`must start with smtp:// or smtps://, got "${url.protocol}"`);
  if (!url.hostname) throw new SmtpUrlError('must name a host, e.g. smtp://user:pass@smtp.example.com:587');
  const secure = url.protocol === 'smtps:';
  const user = decodeURIComponent(url.username);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    auth: user ? { user, pass: decodeURIComponent(url.password) } : undefined,
  };
}

function domainOf(from: string): string {
  const address = /<([^>]+)>\s*$/.exec(from)?.[1] ?? from;
  return (
    address
      .slice(address.lastIndexOf('@') + 1)
      .trim()
      .toLowerCase() || 'hearth.invalid'
  );
}

/**
 * The Message-ID of one message: a function of the idempotency key, its index in the batch and
 * its recipients, so every attempt of a delivery carries the same one (a relay or a mailbox that
 * deduplicates on Message-ID sees one message).
 */
export function messageIdFor(idempotencyKey: string, index: number | null, to: readonly string[], from: string): string {
  const digest = createHash('sha256')
    .update(`${idempotencyKey}\n${index ?? 'single'}\n${to.join(',').toLowerCase()}`)
    .digest('hex')
    .slice(0, 40);
  return `<${digest}.hearth@${domainOf(from)}>`;
}

/**
 * The tags of a send's email (hearth_send, hearth_member) in the headers each relay echoes in its
 * bounce and complaint events: SES's message tags, Postmark's metadata, Mailgun's variables.
 * That is how an inbound event finds its delivery (domain/sending/provider-events.ts).
 */
export function tagHeaders(tags: EmailMessage['tags']): Record<string, string> {
  const safe = (tags ?? []).filter((t) => /^[A-Za-z0-9_-]{1,64}$/.test(t.name) && /^[A-Za-z0-9_.@-]{1,200}$/.test(t.value));
  if (safe.length === 0) return {};
  const headers: Record<string, string> = {
    'X-SES-MESSAGE-TAGS': safe.map((t) => `${t.name}=${t.value}`).join(', '),
    'X-Mailgun-Variables': JSON.stringify(Object.fromEntries(safe.map((t) => [t.name, t.value]))),
  };
  for (const t of safe) headers[`X-PM-Metadata-${t.name}`] = t.value;
  return headers;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
  message?: string;
}

/**
 * A refusal of the recipient or of the message itself (5xx to RCPT TO or to the data) is final
 * for that email. Everything else is retried: a 4xx (greylisting, throttling, a full queue), a
 * lost or timed-out connection, and a 5xx to AUTH or MAIL FROM — a wrong password or an
 * unverified sender is the operator's mistake, to be fixed, and must delay mail, not drop it.
 */
export function classifySmtpError(err: SmtpFailure): MailError {
  const message = (err.response ?? err.message ?? 'SMTP error').slice(0, 500);
  const status = err.responseCode;
  if (status !== undefined && status >= 500 && (err.command === 'RCPT TO' || err.command === 'DATA')) {
    return { kind: 'invalid', message, status };
  }
  return { kind: 'unavailable', message, ...(status === undefined ? {} : { status }) };
}

type JournalEntry = { status: 'accepted' | 'rejected'; response: string };

async function readJournal(db: Kysely<Database>, ids: string[]): Promise<Map<string, JournalEntry>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('smtp_journal').select(['message_id', 'status', 'response']).where('message_id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.message_id, { status: r.status, response: r.response }]));
}

async function writeJournal(db: Kysely<Database>, messageId: string, idempotencyKey: string, entry: JournalEntry): Promise<void> {
  // Committed with the default synchronous_commit: this row is the only memory that the relay has
  // the message, so it must be on disk before the batch is acknowledged.
  await db
    .insertInto('smtp_journal')
    .values({ message_id: messageId, idempotency_key: idempotencyKey, status: entry.status, response: entry.response.slice(0, 500) })
    .onConflict((oc) => oc.column('message_id').doNothing())
    .execute();
}

/** Journal rows older than any retry (a send's batches give up within hours): removed by the maintenance job. */
export async function pruneSmtpJournal(db: Kysely<Database>, olderThanDays = 14): Promise<number> {
  const result = await sql`delete from smtp_journal where created_at < now() - make_interval(days => ${olderThanDays})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export function createSmtpMailer(db: Kysely<Database>, options: SmtpMailerOptions): Mailer & { close(): Promise<void> } {
  const endpoint = parseSmtpUrl(options.url);
  const maxConnections = options.maxConnections ?? 5;
  const connectTimeout = options.connectTimeoutMs ?? 10_000;
  const transport = createTransport({
    pool: true,
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.secure,
    ...(endpoint.auth ? { auth: endpoint.auth } : {}),
    maxConnections,
    // A connection is renewed after this many messages (relays close long sessions anyway).
    maxMessages: 100,
    connectionTimeout: connectTimeout,
    greetingTimeout: connectTimeout,
    socketTimeout: options.socketTimeoutMs ?? 30_000,
  });

  // A message holds one of `maxConnections` slots from before it is handed to the pool until its
  // journal row has committed. The pool alone bounds messages on the wire, not those the relay has
  // accepted whose row still waits for a database connection: with several lanes sending at once
  // on a busy database those piled up (15 repeats after two kills in a trial where the bound said
  // 10). Held across both, the slots make "at most maxConnections messages a kill can repeat" true.
  let free = maxConnections;
  const waiting: Array<() => void> = [];
  const acquire = (): Promise<void> | undefined => {
    if (free > 0) {
      free--;
      return undefined;
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };

  /** One message: skipped when the journal has it, else sent and journaled before returning. */
  async function deliver(message: EmailMessage, messageId: string, idempotencyKey: string, known: JournalEntry | undefined) {
    if (known)
      return known.status === 'accepted'
        ? ({ ok: true } as const)
        : ({ ok: false, error: { kind: 'invalid', message: known.response } } as const);
    await acquire();
    try {
      return await sendAndJournal(message, messageId, idempotencyKey);
    } finally {
      release();
    }
  }

  async function sendAndJournal(message: EmailMessage, messageId: string, idempotencyKey: string) {
    try {
      const info = await transport.sendMail({
        from: message.from ?? options.from,
        to: message.to,
        subject: message.subject,
        ...(message.html === undefined ? {} : { html: message.html }),
        ...(message.text === undefined ? {} : { text: message.text }),
        ...(message.replyTo === undefined ? {} : { replyTo: message.replyTo }),
        messageId,
        // Tag headers are plain ASCII (tagHeaders checks): sent as written, so the JSON of
        // X-Mailgun-Variables is not MIME-encoded into something Mailgun cannot read.
        headers: {
          ...message.headers,
          ...Object.fromEntries(Object.entries(tagHeaders(message.tags)).map(([k, v]) => [k, { prepared: true, value: v }])),
        },
      });
      await writeJournal(db, messageId, idempotencyKey, { status: 'accepted', response: String(info.response ?? '') });
      return { ok: true } as const;
    } catch (err) {
      const error = classifySmtpError(err as SmtpFailure);
      if (error.kind === 'invalid') await writeJournal(db, messageId, idempotencyKey, { status: 'rejected', response: error.message });
      return { ok: false, error } as const;
    }
  }

  return {
    provider: 'smtp',
    rateUnit: 'message',
    async send(message, opts = {}): Promise<SendResult> {
      const key = opts.idempotencyKey ?? `single-${createHash('sha256').update(JSON.stringify(message)).digest('hex')}`;
      const messageId = messageIdFor(key, null, message.to, message.from ?? options.from);
      const known = (await readJournal(db, [messageId])).get(messageId);
      const result = await deliver(message, messageId, key, known);
      return result.ok ? { ok: true, id: messageId } : result;
    },
    async sendBatch(messages, opts): Promise<BatchResult> {
      checkBatch(messages);
      const ids = messages.map((m, i) => messageIdFor(opts.idempotencyKey, i, m.to, m.from ?? options.from));
      const journal = await readJournal(db, ids);
      const outcomes: Array<{ ok: true } | { ok: false; error: MailError } | undefined> = new Array(messages.length);
      let failure: MailError | undefined;
      let next = 0;
      // `maxConnections` runners share the batch; the first retryable failure stops new messages
      // (those in flight finish and are journaled), and the batch is retried later as a whole.
      const runner = async () => {
        while (failure === undefined && next < messages.length) {
          const i = next++;
          const outcome = await deliver(messages[i]!, ids[i]!, opts.idempotencyKey, journal.get(ids[i]!));
          outcomes[i] = outcome;
          if (!outcome.ok && outcome.error.kind !== 'invalid') failure ??= outcome.error;
        }
      };
      await Promise.all(Array.from({ length: Math.min(maxConnections, messages.length) }, runner));
      if (failure) return { ok: false, error: failure };
      const rejected: Array<{ index: number; message: string }> = [];
      const accepted = outcomes.map((o, i) => {
        if (o?.ok) return ids[i]!;
        rejected.push({ index: i, message: o && !o.ok ? o.error.message : 'not sent' });
        return null;
      });
      return { ok: true, ids: accepted, rejected };
    },
    async close() {
      transport.close();
    },
  };
}
