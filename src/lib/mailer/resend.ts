import { Resend } from 'resend';
import type { BatchResult, EmailMessage, MailError, Mailer, RateLimitInfo, SendResult } from './port.ts';
import { checkBatch } from './port.ts';

interface ResendErrorShape {
  name?: string;
  message?: string;
  statusCode?: number | null;
}

/** Resend's SDK never throws: it answers {data, error, headers}. This maps its errors onto ours. */
function toMailError(error: ResendErrorShape, headers: Record<string, string> | null): MailError {
  const status = error.statusCode ?? undefined;
  const message = error.message ?? error.name ?? 'unknown error';
  if (status === 429) {
    const retryAfter = Number(headers?.['retry-after'] ?? headers?.['ratelimit-reset']);
    return { kind: 'rate_limited', message, status, retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1 };
  }
  // Only a refused payload is final. 401/403/404 mean a bad key, an unverified domain or a wrong
  // base URL: an operator's mistake that must delay mail (and be fixed), never drop it.
  // 409: the idempotency key is in flight (retry later) or was used for another payload.
  if (status === 400 || status === 422) {
    return { kind: 'invalid', message, status };
  }
  return { kind: 'unavailable', message, ...(status === undefined ? {} : { status }) };
}

function toPayload(m: EmailMessage, defaultFrom: string) {
  return {
    from: m.from ?? defaultFrom,
    to: m.to,
    subject: m.subject,
    ...(m.html === undefined ? {} : { html: m.html }),
    ...(m.text === undefined ? {} : { text: m.text }),
    ...(m.replyTo === undefined ? {} : { replyTo: m.replyTo }),
    ...(m.headers === undefined ? {} : { headers: m.headers }),
    ...(m.tags === undefined ? {} : { tags: m.tags }),
  };
}

function rateLimitInfo(headers: Record<string, string> | null): RateLimitInfo | undefined {
  const remaining = Number(headers?.['ratelimit-remaining']);
  const reset = Number(headers?.['ratelimit-reset']);
  if (!Number.isFinite(remaining) || !Number.isFinite(reset)) return undefined;
  return { remaining, resetSeconds: Math.max(0, reset) };
}

/** A request to the provider that has not answered by then is abandoned and retried later. */
const REQUEST_TIMEOUT_MS = 30_000;

export function createResendMailer(options: { apiKey: string; baseUrl?: string | undefined; from: string; timeoutMs?: number }): Mailer {
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const resend = new Resend(options.apiKey, options.baseUrl ? { baseUrl: options.baseUrl } : undefined);
  return {
    provider: 'resend',
    rateUnit: 'request',
    async send(message, opts = {}): Promise<SendResult> {
      const payload = toPayload(message, options.from) as Parameters<typeof resend.emails.send>[0];
      // The SDK passes request options on to fetch, so a signal bounds a hung connection.
      const requestOptions = {
        ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      };
      const { data, error, headers } = await resend.emails.send(payload, requestOptions as { idempotencyKey?: string });
      if (error || !data) return { ok: false, error: toMailError(error ?? { message: 'empty answer' }, headers) };
      return { ok: true, id: data.id };
    },
    async sendBatch(messages, opts): Promise<BatchResult> {
      checkBatch(messages);
      const payload = messages.map((m) => toPayload(m, options.from)) as Parameters<typeof resend.batch.send>[0];
      // Permissive validation: one refused address fails that email, not the whole batch.
      const { data, error, headers } = await resend.batch.send(payload, {
        idempotencyKey: opts.idempotencyKey,
        batchValidation: 'permissive',
        signal: AbortSignal.timeout(timeoutMs),
      } as { idempotencyKey: string; batchValidation: 'permissive' });
      if (error || !data) return { ok: false, error: toMailError(error ?? { message: 'empty answer' }, headers) };
      const answer = data as { data: Array<{ id: string }>; errors?: Array<{ index: number; message: string }> };
      const rejected = answer.errors ?? [];
      const rejectedIdx = new Set(rejected.map((r) => r.index));
      const ids: Array<string | null> = [];
      let next = 0;
      for (let i = 0; i < messages.length; i++) {
        ids.push(rejectedIdx.has(i) ? null : (answer.data[next++]?.id ?? null));
      }
      const rateLimit = rateLimitInfo(headers);
      return { ok: true, ids, rejected, ...(rateLimit ? { rateLimit } : {}) };
    },
  };
}

/**
 * A Resend webhook's event, verified with the SDK (Svix signatures over id, timestamp and the
 * raw body); null when the signature, the timestamp window or the body is wrong.
 */
export function verifyResendWebhook(secret: string, payload: string, headers: Headers): unknown {
  const resend = new Resend('re_webhook_verification_only');
  try {
    return resend.webhooks.verify({
      payload,
      headers: {
        id: headers.get('svix-id') ?? '',
        timestamp: headers.get('svix-timestamp') ?? '',
        signature: headers.get('svix-signature') ?? '',
      },
      webhookSecret: secret,
    } as Parameters<typeof resend.webhooks.verify>[0]);
  } catch {
    return null;
  }
}
