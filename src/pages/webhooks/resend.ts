import type { APIRoute } from 'astro';
import { handleResendEvent, type ResendEvent } from '../../domain/sending/webhooks.ts';
import { errorFields, log } from '../../lib/log.ts';
import { verifyResendWebhook } from '../../lib/mailer/resend.ts';

const MAX_BODY = 256 * 1024;

/**
 * Resend's webhooks: a bad signature is a 401; an event type we do not handle is a 200; a
 * failure while handling is a 500, so Resend retries (handlers are idempotent, any order).
 */
export const POST: APIRoute = async ({ request, locals }) => {
  const { config, db } = locals.runtime;
  const secret = config.resend?.webhookSecret;
  if (!secret) return new Response('Email webhooks are not configured (RESEND_WEBHOOK_SECRET).', { status: 404 });
  const body = await request.text();
  if (body.length > MAX_BODY) return new Response('Payload too large.', { status: 413 });
  const event = verifyResendWebhook(secret, body, request.headers) as ResendEvent | null;
  if (!event || typeof event !== 'object' || typeof event.type !== 'string') return new Response('Bad signature.', { status: 401 });
  try {
    const outcome = await handleResendEvent(db, event);
    return new Response(JSON.stringify({ received: true, outcome }), { headers: { 'content-type': 'application/json' } });
  } catch (err) {
    log.error('resend webhook failed', { type: event.type, ...errorFields(err) });
    return new Response('Handling failed; retry.', { status: 500 });
  }
};
