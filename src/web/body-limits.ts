import { MAX_IMPORT_BYTES } from '../domain/imports/upload.ts';
import { MAX_IMAGE_BYTES } from '../lib/uploads.ts';
import { EDITOR_FORM_BYTES } from './request-data.ts';

/**
 * How many bytes of a request body each route may send: the server (server.ts) counts the bytes
 * it actually reads, chunked or not, and answers 413 at the first byte past the limit, so no
 * route reads (or buffers) more than this whatever Content-Length says. Pure: tested without a server.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

export const BODY_LIMITS = {
  /** Reader forms: subscribe, sign-in, confirm, preferences, account. */
  readerForm: 8 * KiB,
  /** A comment (10,000 characters, percent-encoded in the worst case) or a report. */
  comment: 128 * KiB,
  /** Signed provider webhooks (Stripe, Resend). */
  webhook: 1 * MiB,
  /** An activity posted to the fediverse inboxes (a long article with its HTML fits). */
  fediverse: 256 * KiB,
  /** Staff forms and API calls: the post editor's Markdown is the largest. */
  staff: EDITOR_FORM_BYTES,
  /** An image from the editor, with the multipart framing. */
  imageUpload: MAX_IMAGE_BYTES + 64 * KiB,
  /** A member import's CSV, with the multipart framing. */
  importUpload: MAX_IMPORT_BYTES + 64 * KiB,
} as const;

export function bodyLimitFor(pathname: string): number {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  if (path.startsWith('/webhooks/')) return BODY_LIMITS.webhook;
  if (path.startsWith('/ap/')) return BODY_LIMITS.fediverse;
  if (path === '/admin/uploads') return BODY_LIMITS.imageUpload;
  if (path === '/admin/imports' || path === '/api/v1/imports') return BODY_LIMITS.importUpload;
  if (path === '/admin' || path.startsWith('/admin/') || path.startsWith('/api/')) return BODY_LIMITS.staff;
  if (/^\/posts\/[^/]+\/comments(\/|$)/.test(path)) return BODY_LIMITS.comment;
  return BODY_LIMITS.readerForm;
}
