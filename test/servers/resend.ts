import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

/**
 * A local Resend-compatible server for tests: the real SDK is pointed at it through
 * RESEND_BASE_URL (or `baseUrl`). It records every email it accepts and answers the way
 * Resend does, including idempotency keys: the same key with the same payload gets the first
 * answer again; the same key with another payload is refused (409).
 */
export interface RecordedEmail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  html?: string;
  text?: string;
  headers?: Record<string, string>;
  /** `reply_to` as the SDK sends it (a string, or the first of a list). */
  replyTo?: string;
  idempotencyKey?: string;
}

type Fault =
  | { status: 429; retryAfter: number }
  | { status: 500 }
  /** Accept (and record) the request, then answer only after `ms`: the client times out first. */
  | { status: 'timeout'; ms: number }
  /** Accept (and record) the request, then drop the connection without an answer. */
  | { status: 'drop' };

export interface ResendTestServer {
  url: string;
  emails: RecordedEmail[];
  requests: number;
  /** The next n requests fail this way. */
  failNext(fault: Fault, n?: number): void;
  /** Forgets faults not yet used and refused addresses. */
  clearFaults(): void;
  /** Addresses refused in batches (permissive validation reports them per index). */
  rejectAddress(address: string): void;
  /** Answers 429 (with retry-after and ratelimit-* headers) beyond this many requests per second. */
  throttle(requestsPerSecond: number | null): void;
  /** Requests answered 429 by the throttle. */
  readonly throttled: number;
  /** Times (ms) at which requests were accepted, for measuring the achieved rate. */
  readonly acceptedAt: number[];
  /** How many emails each recipient got. */
  countByRecipient(): Map<string, number>;
  close(): Promise<void>;
}

export interface ResendTestServerOptions {
  /** Keep only recipients and subjects (a benchmark of a million emails must not keep bodies). */
  light?: boolean;
}

/** Svix-style signature headers for a webhook body, as Resend sends them. */
export function resendWebhookHeaders(
  secret: string,
  body: string,
  id = `msg_${randomBytes(8).toString('hex')}`,
  at = new Date(),
): Record<string, string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': `v1,${signature}` };
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The recipients and subjects of a batch body, found without a full parse. */
function lightBatch(raw: string): Array<Record<string, unknown>> {
  if (!raw.startsWith('[')) throw new Error('not a batch');
  // Inside JSON strings every quote is escaped, so these keys only match the emails' own fields.
  const all = (key: string, value: string) =>
    [...raw.matchAll(new RegExp(`"${key}":(${value})`, 'g'))].map((m) => JSON.parse(m[1]!) as unknown);
  const string = '"(?:[^"\\\\]|\\\\.)*"';
  const froms = all('from', string);
  const tos = all('to', '\\[[^\\]]*\\]');
  const subjects = all('subject', string);
  if (tos.length === 0 || froms.length !== tos.length || subjects.length !== tos.length) throw new Error('not a batch');
  return tos.map((to, i) => ({ from: froms[i], to, subject: subjects[i] }));
}

export async function startResendTestServer(options: ResendTestServerOptions = {}): Promise<ResendTestServer> {
  const emails: RecordedEmail[] = [];
  const byRecipient = new Map<string, number>();
  const acceptedAt: number[] = [];
  let rate: number | null = null;
  let tokens = 0;
  let refilledAt = Date.now();
  let throttled = 0;
  const idempotent = new Map<string, { hash: string; status: number; answer: unknown }>();
  const faults: Fault[] = [];
  const rejected = new Set<string>();
  let counter = 0;
  let requests = 0;

  const server: Server = createServer(async (req, res) => {
    requests++;
    const send = (status: number, answer: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(answer));
    };
    const raw = await body(req);
    if (req.headers.authorization !== 'Bearer re_test_key')
      return send(401, { statusCode: 401, name: 'validation_error', message: 'API key is invalid' });
    let rateHeaders: Record<string, string> = {};
    if (rate !== null) {
      // A token bucket holding one second's worth, as a provider's per-second limit behaves.
      const now = Date.now();
      tokens = Math.min(rate, tokens + ((now - refilledAt) / 1000) * rate);
      refilledAt = now;
      if (tokens < 1) {
        throttled++;
        const reset = Math.max(1, Math.ceil((1 - tokens) / rate));
        return send(
          429,
          { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests' },
          { 'retry-after': String(reset), 'ratelimit-limit': String(rate), 'ratelimit-remaining': '0', 'ratelimit-reset': String(reset) },
        );
      }
      tokens -= 1;
      rateHeaders = { 'ratelimit-limit': String(rate), 'ratelimit-remaining': String(Math.floor(tokens)), 'ratelimit-reset': '1' };
    }
    const fault = faults.shift();
    if (fault?.status === 429)
      return send(
        429,
        { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests' },
        { 'retry-after': String(fault.retryAfter) },
      );
    if (fault?.status === 500) return send(500, { statusCode: 500, name: 'internal_server_error', message: 'boom' });

    const key = req.headers['idempotency-key'] as string | undefined;
    const hash = createHash('sha256').update(`${req.url} ${raw}`).digest('hex');
    if (key) {
      const seen = idempotent.get(key);
      if (seen && seen.hash !== hash) {
        return send(409, {
          statusCode: 409,
          name: 'invalid_idempotent_request',
          message: 'Same idempotency key used with a different request payload',
        });
      }
      if (seen) return send(seen.status, seen.answer, rateHeaders);
    }
    let payload: unknown;
    try {
      // Light mode (benchmarks) reads only what it records from a batch: each email's "to" and
      // "subject", without parsing megabytes of HTML it would throw away.
      payload = options.light && req.url === '/emails/batch' ? lightBatch(raw) : JSON.parse(raw);
    } catch {
      return send(400, { statusCode: 400, name: 'validation_error', message: 'Invalid JSON' });
    }
    const record = (m: Record<string, unknown>): RecordedEmail => {
      const to = Array.isArray(m.to) ? m.to.map(String) : [String(m.to)];
      for (const a of to) byRecipient.set(a, (byRecipient.get(a) ?? 0) + 1);
      const email: RecordedEmail = {
        id: `re_${++counter}`,
        from: String(m.from),
        to,
        subject: String(m.subject),
        ...(typeof m.html === 'string' && !options.light ? { html: m.html } : {}),
        ...(typeof m.text === 'string' && !options.light ? { text: m.text } : {}),
        ...(m.headers && !options.light ? { headers: m.headers as Record<string, string> } : {}),
        ...(m.reply_to && !options.light ? { replyTo: String(Array.isArray(m.reply_to) ? m.reply_to[0] : m.reply_to) } : {}),
        ...(key ? { idempotencyKey: key } : {}),
      };
      if (!options.light) emails.push(email);
      return email;
    };
    let status = 200;
    let answer: unknown;
    if (req.method === 'POST' && req.url === '/emails') {
      const m = payload as Record<string, unknown>;
      if (!m.from || !m.to || !m.subject) {
        status = 422;
        answer = { statusCode: 422, name: 'validation_error', message: 'Missing `from`, `to` or `subject` field.' };
      } else {
        answer = { id: record(m).id };
      }
    } else if (req.method === 'POST' && req.url === '/emails/batch') {
      const list = payload as Array<Record<string, unknown>>;
      if (!Array.isArray(list) || list.length === 0 || list.length > 100) {
        status = 422;
        answer = { statusCode: 422, name: 'validation_error', message: 'A batch holds 1 to 100 emails.' };
      } else {
        const data: Array<{ id: string }> = [];
        const errors: Array<{ index: number; message: string }> = [];
        list.forEach((m, index) => {
          const to = Array.isArray(m.to) ? m.to.map(String) : [String(m.to)];
          if (to.some((a) => rejected.has(a))) errors.push({ index, message: 'Invalid `to` field.' });
          else data.push({ id: record(m).id });
        });
        answer = req.headers['x-batch-validation'] === 'permissive' ? { data, errors } : { data };
      }
    } else {
      status = 404;
      answer = { statusCode: 404, name: 'not_found', message: 'Not found' };
    }
    if (key && status < 500) idempotent.set(key, { hash, status, answer });
    if (status < 300) acceptedAt.push(Date.now());
    if (fault?.status === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.status === 'timeout') await new Promise((r) => setTimeout(r, fault.ms));
    if (res.destroyed) return;
    send(status, answer, rateHeaders);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    emails,
    get requests() {
      return requests;
    },
    failNext(fault, n = 1) {
      for (let i = 0; i < n; i++) faults.push(fault);
    },
    rejectAddress(address) {
      rejected.add(address);
    },
    clearFaults() {
      faults.length = 0;
      rejected.clear();
    },
    throttle(requestsPerSecond) {
      rate = requestsPerSecond;
      tokens = requestsPerSecond ?? 0;
      refilledAt = Date.now();
    },
    get throttled() {
      return throttled;
    },
    acceptedAt,
    countByRecipient: () => byRecipient,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
