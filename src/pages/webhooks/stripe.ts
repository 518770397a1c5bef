import type { APIRoute } from 'astro';
import { handleStripeEvent } from '../../domain/billing/billing.ts';
import { errorFields, log } from '../../lib/log.ts';

/**
 * Stripe's webhooks: a bad signature is a 401; an event type we do not handle is a 200; a
 * failure while handling is a 500, so Stripe retries (handlers are idempotent).
 */
export const POST: APIRoute = async ({ request, locals }) => {
  const { stripe, config, db, keys } = locals.runtime;
  const secret = config.stripe?.webhookSecret;
  if (!stripe || !secret) return new Response('Payments are not configured.', { status: 404 });
  const body = await request.text();
  let event;
  try {
    event = await stripe.webhooks.constructEventAsync(body, request.headers.get('stripe-signature') ?? '', secret);
  } catch {
    return new Response('Bad signature.', { status: 401 });
  }
  try {
    const outcome = await handleStripeEvent(db, stripe, keys, event);
    return new Response(JSON.stringify({ received: true, outcome }), { headers: { 'content-type': 'application/json' } });
  } catch (err) {
    log.error('stripe webhook failed', { type: event.type, ...errorFields(err) });
    return new Response('Handling failed; retry.', { status: 500 });
  }
};
