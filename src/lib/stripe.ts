import Stripe from 'stripe';
import { createHash } from 'node:crypto';
import type { Config } from './config.ts';

/**
 * The Stripe client, or undefined when payments are not configured. STRIPE_API_BASE points the
 * real SDK at a Stripe-compatible server (the tests' own), through its host/port/protocol options.
 */
export function createStripe(config: Config['stripe']): Stripe | undefined {
  if (!config) return undefined;
  const base = config.apiBase ? new URL(config.apiBase) : undefined;
  return new Stripe(config.secretKey, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          protocol: base.protocol.replace(':', '') as 'http' | 'https',
        }
      : {}),
  });
}

/** JSON with object keys in sorted order, so equal parameters always give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * An idempotency key that covers every parameter of the request: `<intent>-<hash of params>`.
 * Stripe refuses a key reused with other parameters (400 idempotency_error), so a key made only
 * of the intent ("checkout for member 7 this minute") breaks as soon as one parameter differs
 * (another return page); with the parameters in the key, the same request is replayed and a
 * different one is a different request. Stripe keys are at most 255 characters.
 */
export function idempotencyKey(intent: string, params: unknown): string {
  const hash = createHash('sha256').update(canonicalJson(params)).digest('base64url').slice(0, 32);
  return `${intent.slice(0, 200)}-${hash}`;
}

/**
 * Any error from Stripe or from reaching it (connection, authentication, refusal). Checked by
 * shape as well as by class: the built server bundle may hold its own copy of the SDK's classes.
 */
export function isStripeError(err: unknown): err is Stripe.errors.StripeError {
  if (err instanceof Stripe.errors.StripeError) return true;
  const type = (err as { type?: unknown } | null)?.type;
  return err instanceof Error && typeof type === 'string' && type.startsWith('Stripe');
}

/** Stripe answered that the object does not exist (deleted, or it belongs to another account). */
export function isMissingInStripe(err: unknown): boolean {
  return isStripeError(err) && (err.code === 'resource_missing' || err.statusCode === 404);
}
