import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from '../lib/errors.ts';
import { log, errorFields } from '../lib/log.ts';
import { currentRequestContext } from '../lib/request-context.ts';

/** HTTP status for each domain error; an unexpected error is a 500 and is logged. */
export function statusFor(err: unknown): number {
  // instanceof, not the class name: subclasses (PaymentsNotConfigured is a ConflictError) keep their status.
  if (err instanceof ValidationError) return 400;
  if (err instanceof UnauthorizedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError) return 409;
  if (err instanceof RateLimitedError) return 429;
  if (err instanceof UnavailableError) return 503;
  return err instanceof DomainError ? 400 : 500;
}

export function json(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}

/** The API's error shape: {"error":{"code","message"}}. */
export function jsonError(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json({ error: { code, message } }, status, headers);
}

/** Maps a thrown error to the API's JSON error; unexpected errors become a logged 500 with no detail. */
export function jsonErrorFrom(err: unknown): Response {
  const status = statusFor(err);
  if (status === 500 || !(err instanceof DomainError)) {
    log.error('unhandled error', errorFields(err));
    return jsonError(500, 'internal', 'Something went wrong on our side.');
  }
  const headers: Record<string, string> = err instanceof RateLimitedError ? { 'retry-after': String(err.retryAfter) } : {};
  return jsonError(status, err.code, err.message, headers);
}

/**
 * The client's address: the one Hearth's server resolved under TRUST_PROXY (the forwarded client
 * behind trusted proxies, else the TCP peer), or Astro's when served otherwise; a placeholder when unknown.
 */
export function clientIp(clientAddress: () => string): string {
  const resolved = currentRequestContext()?.clientAddress;
  if (resolved) return resolved;
  try {
    return clientAddress();
  } catch {
    return 'unknown';
  }
}

/**
 * A local path to go back to after sign-in, under `prefix`; anything else becomes the fallback:
 * other hosts (//evil, https://…), backslashes, and control characters (browsers drop a tab in
 * "/\t/evil.example" and land on evil.example).
 */
export function safeNext(value: string | null | undefined, fallback: string, prefix = '/'): string {
  if (!value || value.length > 2000 || !value.startsWith('/') || /[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  let url: URL;
  try {
    url = new URL(value, 'http://hearth.invalid');
  } catch {
    return fallback;
  }
  if (url.origin !== 'http://hearth.invalid') return fallback;
  const path = url.pathname + url.search;
  return path.startsWith(prefix) ? path : fallback;
}

/** Parses a JSON body against a zod schema; anything wrong is a ValidationError naming the field. */
export async function readJson<T>(request: Request, schema: import('zod').ZodType<T>): Promise<T> {
  let body: unknown;
  try {
    // PostgreSQL text cannot hold U+0000; no API field means it (see request-data.ts).
    body = JSON.parse(await request.text(), (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '') : value));
  } catch {
    throw new ValidationError('The body must be JSON.', 'invalid_json');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`${issue.path.join('.') || 'body'}: ${issue.message}`, 'invalid_body');
  }
  return parsed.data;
}

/** A streamed text download from an async iterable of chunks (CSV exports and reports). */
export function streamedDownload(chunks: AsyncIterable<string>, headers: Record<string, string>): Response {
  const lines = chunks[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await lines.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await lines.return?.(undefined);
    },
  });
  return new Response(body, { headers: { 'cache-control': 'no-store', ...headers } });
}

/**
 * A CSV download, streamed: `load` checks what it needs (a parameter, that the import or post
 * exists) and returns the rows. A DomainError it throws is a plain-text 4xx, sent before any row
 * (a stream cannot change its status once started). The file is `name`, dated by default
 * (`members-2026-12-01.csv`).
 */
export async function csvDownload(
  name: string,
  load: () => Promise<AsyncIterable<string>>,
  { dated = true }: { dated?: boolean } = {},
): Promise<Response> {
  let chunks: AsyncIterable<string>;
  try {
    chunks = await load();
  } catch (err) {
    if (err instanceof DomainError) return new Response(err.message, { status: statusFor(err) });
    throw err;
  }
  return streamedDownload(chunks, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${name}${dated ? `-${new Date().toISOString().slice(0, 10)}` : ''}.csv"`,
  });
}

/**
 * A page's form handling in one line: a domain error becomes the message to show (and the
 * response's status); anything else is not the reader's doing and is rethrown.
 */
export function formFailure(err: unknown, response: { status?: number | undefined }): string {
  if (!(err instanceof DomainError)) throw err;
  response.status = statusFor(err);
  return err.message;
}
