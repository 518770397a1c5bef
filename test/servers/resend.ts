import { createHash } from 'node:crypto';
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
  idempotencyKey?: string;
}

type Fault = { status: 429; retryAfter: number } | { status: 500 };

export interface ResendTestServer {
  url: string;
  emails: RecordedEmail[];
  requests: number;
  /** The next n requests fail this way. */
  failNext(fault: Fault, n?: number): void;
  /** Addresses refused in batches (permissive validation reports them per index). */
  rejectAddress(address: string): void;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

export async function startResendTestServer(): Promise<ResendTestServer> {
  const emails: RecordedEmail[] = [];
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
    if (req.headers.authorization !== 'Bearer re_test_key') return send(401, { statusCode: 401, name: 'validation_error', message: 'API key is invalid' });
    const fault = faults.shift();
    if (fault?.status === 429) return send(429, { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests' }, { 'retry-after': String(fault.retryAfter) });
    if (fault?.status === 500) return send(500, { statusCode: 500, name: 'internal_server_error', message: 'boom' });

    const key = req.headers['idempotency-key'] as string | undefined;
    const hash = createHash('sha256').update(`${req.url} ${raw}`).digest('hex');
    if (key) {
      const seen = idempotent.get(key);
      if (seen && seen.hash !== hash) {
        return send(409, { statusCode: 409, name: 'invalid_idempotent_request', message: 'Same idempotency key used with a different request payload' });
      }
      if (seen) return send(seen.status, seen.answer);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(raw);
    } catch {
      return send(400, { statusCode: 400, name: 'validation_error', message: 'Invalid JSON' });
    }
    const record = (m: Record<string, unknown>): RecordedEmail => {
      const email: RecordedEmail = {
        id: `re_${++counter}`,
        from: String(m.from),
        to: Array.isArray(m.to) ? m.to.map(String) : [String(m.to)],
        subject: String(m.subject),
        ...(typeof m.html === 'string' ? { html: m.html } : {}),
        ...(typeof m.text === 'string' ? { text: m.text } : {}),
        ...(m.headers ? { headers: m.headers as Record<string, string> } : {}),
        ...(key ? { idempotencyKey: key } : {}),
      };
      emails.push(email);
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
    send(status, answer);
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
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
